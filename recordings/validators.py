"""Input rules for what people type about footage: case numbers, reasons, hold and export
windows. Written once here, next to the models; every form, command and domain function
calls them (SQLite enforces no max_length, so the admin's field checks are not enough).

Each raises django.core.exceptions.ValidationError with a message for the person typing.
"""

import unicodedata
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

CASE_NUMBER_MAX = 100  # Export.case_number / LegalHold.case_number max_length
REASON_MAX = 2000
# No box recorded anything before this; a time before it is a typing error (year 0001).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
HOLD_MIN = timedelta(seconds=1)
# A hold reaching far into the future would stop retention deleting anything recorded until
# then; holds are for footage that exists, with a short allowance for an event about to start.
HOLD_MAX_AHEAD = timedelta(days=7)
EXPORT_MIN = timedelta(seconds=1)


def _bad_character(value: str, allow_newlines: bool) -> str | None:
    """The first control, format (e.g. bidi override), line-separator or unassigned character."""
    for c in value:
        if c == "\n" and allow_newlines:
            continue
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return c
    return None


def clean_text(
    value: object, what: str, max_length: int, *, required: bool = True, multiline: bool = False
) -> str:
    """`value` stripped, or ValidationError naming what is wrong with it."""
    text = "" if value is None else str(value)
    if multiline:
        text = text.replace("\r\n", "\n")
    text = text.strip()
    if required and not text:
        raise ValidationError(f"The {what} must not be empty.", code="required")
    bad = _bad_character(text, multiline)
    if bad is not None:
        raise ValidationError(
            f"The {what} contains a control character (U+{ord(bad):04X}): type it "
            + (
                "without tabs or control characters." if multiline else "on one line, without tabs."
            ),
            code="control_character",
        )
    if len(text) > max_length:
        raise ValidationError(
            f"The {what} is {len(text)} characters long; at most {max_length} are allowed.",
            code="max_length",
        )
    return text


def clean_case_number(value: object, *, required: bool = True) -> str:
    return clean_text(value, "case number", CASE_NUMBER_MAX, required=required)


def clean_reason(value: object, what: str = "reason") -> str:
    return clean_text(value, what, REASON_MAX, multiline=True)


def _local(when: datetime) -> str:
    return f"{timezone.localtime(when):%Y-%m-%d %H:%M:%S}"


def check_window(start: datetime, end: datetime, what: str, shortest: timedelta) -> None:
    if end <= start:
        raise ValidationError(
            f"The end of the {what} must be after its start.", code="end_before_start"
        )
    if start < EARLIEST:
        raise ValidationError(
            f"The {what} starts on {_local(start)}, before any recording: check the year.",
            code="too_early",
        )
    if end - start < shortest:
        raise ValidationError(
            f"The {what} is {(end - start).total_seconds():g} s long; it must be at least "
            f"{shortest.total_seconds():g} s.",
            code="too_short",
        )


def check_hold_window(start: datetime, end: datetime, now: datetime | None = None) -> None:
    check_window(start, end, "hold", HOLD_MIN)
    now = now or timezone.now()
    if end > now + HOLD_MAX_AHEAD:
        raise ValidationError(
            f"The hold ends on {_local(end)}, more than {HOLD_MAX_AHEAD.days} days from now: "
            "it would stop retention deleting footage not recorded yet. End it sooner and "
            "extend it later if needed.",
            code="too_far_ahead",
        )


def check_export_window(start: datetime, end: datetime, now: datetime | None = None) -> None:
    check_window(start, end, "window", EXPORT_MIN)
    now = now or timezone.now()
    if start >= now:
        raise ValidationError(
            f"The window starts on {_local(start)}, in the future (now {_local(now)}).",
            code="future",
        )
    if end > now:
        raise ValidationError(
            f"The window ends on {_local(end)}, in the future (now {_local(now)}): end it "
            "now or earlier.",
            code="future",
        )
