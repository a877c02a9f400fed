"""Legal hold: a time range of a camera that retention never deletes while the hold lasts."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from cameras.models import Camera
from crimebox import outbox

from .models import LegalHold, Segment
from .validators import check_hold_window, clean_case_number, clean_reason


class HoldError(ValueError):
    """Bad hold input: the message is for the user."""


def _refresh_segments(camera: Camera, start: datetime, end: datetime) -> int:
    """Recompute on_hold for the camera's segments overlapping [start, end); returns held count.

    One read of the active holds and of the segments, then bulk updates: a hold over a year of
    15-minute segments is 35,000 rows.
    """
    segments = list(
        Segment.objects.filter(camera=camera)
        .overlapping(start, end)
        .values_list("pk", "start", "end", "on_hold")
    )
    if not segments:
        return 0
    # Every active hold touching these segments, also those reaching beyond [start, end).
    span_start, span_end = min(s[1] for s in segments), max(s[2] for s in segments)
    holds = list(
        LegalHold.objects.filter(camera=camera)
        .active()
        .overlapping(span_start, span_end)
        .values_list("start", "end")
    )
    held: list[int] = []
    free: list[int] = []
    changed: list[int] = []
    for pk, s, e, was_held in segments:
        is_held = any(hs < e and he > s for hs, he in holds)
        (held if is_held else free).append(pk)
        if is_held != was_held:
            changed.append(pk)
    for ids, value in ((held, True), (free, False)):
        for i in range(0, len(ids), 5000):  # under SQLite's bound-parameter limit
            Segment.objects.filter(pk__in=ids[i : i + 5000]).update(on_hold=value)
    _report_hold_changes(changed)
    return len(held)


def _report_hold_changes(ids: list[int]) -> None:
    """A "put on hold" / "taken off hold" fact per chained segment whose state changed."""
    now = timezone.now()
    for i in range(0, len(ids), 5000):  # under SQLite's bound-parameter limit
        changed = list(
            Segment.objects.filter(pk__in=ids[i : i + 5000]).chained().select_related("camera")
        )
        for event, on_hold in (("hold_on", True), ("hold_off", False)):
            segments = [s for s in changed if s.on_hold == on_hold]
            outbox.report_many(outbox.SEGMENT_EVENT, segments, event=event, at=now)


def place_hold(
    camera: Camera,
    start: datetime,
    end: datetime,
    reason: str,
    *,
    user: Any = None,
    request: HttpRequest | None = None,
    case_number: str = "",
) -> LegalHold:
    """Hold every segment of `camera` overlapping [start, end), now and recorded later."""
    try:
        reason = clean_reason(reason, "reason for the hold")
        case_number = clean_case_number(case_number, required=False)
        check_hold_window(start, end)
    except ValidationError as e:
        raise HoldError(e.messages[0]) from None
    with transaction.atomic():
        hold = LegalHold.objects.create(
            camera=camera,
            start=start,
            end=end,
            reason=reason,
            case_number=case_number,
            created_by=user,
        )
        count = _refresh_segments(camera, start, end)
        # In the hold's transaction: a crash can leave neither a hold without its audit
        # entry nor an entry without its hold.
        log.record(
            AuditEvent.Action.HOLD,
            request=request,
            user=user,
            camera=camera,
            target=f"hold {hold.pk}",
            detail={
                "start": start,
                "end": end,
                "reason": hold.reason,
                "case_number": case_number,
                "segments": count,
            },
        )
    return hold


def release_hold(
    hold: LegalHold,
    reason: str,
    *,
    user: Any = None,
    request: HttpRequest | None = None,
) -> LegalHold:
    if not hold.is_active:
        raise HoldError("This hold was already released.")
    try:
        reason = clean_reason(reason, "reason for releasing the hold")
    except ValidationError as e:
        raise HoldError(e.messages[0]) from None
    with transaction.atomic():
        hold.released_at = timezone.now()
        hold.released_by = user
        hold.release_reason = reason
        hold.save(update_fields=["released_at", "released_by", "release_reason"])
        _refresh_segments(hold.camera, hold.start, hold.end)
        log.record(
            AuditEvent.Action.RELEASE,
            request=request,
            user=user,
            camera=hold.camera,
            target=f"hold {hold.pk}",
            detail={"reason": hold.release_reason},
        )
    return hold
