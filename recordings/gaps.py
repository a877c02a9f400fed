"""Opening and closing Gap rows: every interval without recording, with its cause."""

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction

from cameras.models import Camera
from crimebox import outbox

from .models import Gap, Segment

logger = logging.getLogger(__name__)

_UNREACHABLE = re.compile(
    r"connection refused|timed out|timeout|no route to host|network is unreachable|"
    r"name or service not known|could not resolve|401 unauthorized|403 forbidden|"
    r"404 not found|server returned|end of file|connection reset|broken pipe|i/o error",
    re.IGNORECASE,
)


_NO_SPACE = "no space left on device"
# Free bytes below which a failed FFmpeg is taken to have met a full disk.
DISK_FULL_BYTES = 1024 * 1024


def classify_exit(
    errors: str | Sequence[str], returncode: int | None = None, disk_full: bool = False
) -> str:
    """The Gap cause for an FFmpeg exit, from its last error lines (oldest first).

    A full disk is named by any of them, or by the disk itself: FFmpeg's last line is often
    a consequence ("Conversion failed!", a trailer error) and said nothing of the disk.
    """
    lines = [errors] if isinstance(errors, str) else list(errors)
    last = next((ln for ln in reversed(lines) if ln), "")
    if disk_full or any(_NO_SPACE in ln.lower() for ln in lines):
        return Gap.Cause.DISK_FULL
    if returncode == 0:
        # Measured: the camera ending the stream exits 0, sometimes with a decoder's complaint
        # about the cut-off last frame as its last line ("missing picture in access unit").
        return Gap.Cause.CAMERA_UNREACHABLE
    if _UNREACHABLE.search(last):
        return Gap.Cause.CAMERA_UNREACHABLE
    return Gap.Cause.FFMPEG_EXITED


def telling_line(lines: Sequence[str], cause: str) -> str:
    """The error line that explains `cause` best (the last one, unless the disk is full)."""
    if cause == Gap.Cause.DISK_FULL:
        named = [ln for ln in lines if _NO_SPACE in ln.lower()]
        if named:
            return named[-1]
        said = f"; FFmpeg's last line: {lines[-1]}" if lines else ""
        return f"No space left on device: the disk is full{said}"
    return lines[-1] if lines else ""


def last_media_end(camera: Camera) -> datetime | None:
    """The end of the newest footage: the latest end, not the highest sequence (a link
    appended late, or after a clock step, must not open a gap over footage after it)."""
    last = Segment.objects.filter(camera=camera).chained().only("end").order_by("-end").first()
    return last.end if last else None


def open_gap(camera: Camera, cause: str, detail: str, at: datetime) -> Gap:
    """Open a gap from the end of the last recorded media (or `at`), unless one is open already.

    An open gap stays the first cause: a camera that drops and then keeps failing is one gap.
    """
    with transaction.atomic():
        gap = Gap.objects.filter(camera=camera).open().first()
        if gap is not None:
            return gap
        # From the end of the last media, which is what a court compares coverage with.
        start = last_media_end(camera) or at
        gap = Gap.objects.create(
            camera=camera, start=start, cause=cause, detail=camera.redact(detail)[:2000]
        )
        outbox.report(outbox.GAP_OPENED, gap)
    logger.warning("camera %s: gap from %s (%s) %s", camera, gap.start, cause, gap.detail)
    return gap


def close_gaps(camera: Camera, at: datetime) -> int:
    """Close the camera's open gap(s) at `at`, when recording has resumed."""
    closed = 0
    with transaction.atomic():
        for gap in Gap.objects.filter(camera=camera).open():
            gap.end = max(gap.start, at)
            gap.save(update_fields=["end"])
            outbox.report(outbox.GAP_CLOSED, gap)
            closed += 1
    if closed:
        logger.info("camera %s: recording resumed at %s", camera, at)
    return closed


def align_resumed_gap(camera: Camera, first_start: datetime) -> None:
    """Move the end of the gap a new FFmpeg run closed to its first segment's real start.

    The gap was closed when the run's first file appeared (an estimate to the second); the
    segment list gives the exact media time once the first file closes.
    """
    gap = (
        Gap.objects.filter(camera=camera, end__isnull=False, start__lte=first_start)
        .order_by("-start")
        .first()
    )
    if (
        gap is None
        or gap.end is None  # never: the query asks for an ended gap
        or gap.end == first_start
        or abs((gap.end - first_start).total_seconds()) >= 30
    ):
        return
    with transaction.atomic():
        Gap.objects.filter(pk=gap.pk).update(end=first_start)
        gap.end = first_start
        outbox.report(outbox.GAP_CLOSED, gap)  # the corrected end, as a new document


def record_clock_step(camera: Camera, step: float, at: datetime) -> Gap:
    """The box's clock stepped by `step` seconds, reading `at` just after.

    A Gap of cause clock-step over the interval whose times were written twice (stepped
    back) or skipped (stepped forward). Footage already recorded that the step proves wrong
    (times in the future of the new clock) is flagged: not synchronised, with a note.
    """
    before = at - timedelta(seconds=step)
    way = "back" if step < 0 else "forward"
    detail = (
        f"The box's clock stepped {way} {abs(step):.1f} s at {at:%Y-%m-%d %H:%M:%S} UTC "
        f"(it read {before:%Y-%m-%d %H:%M:%S}). "
        + (
            "Footage of this interval was recorded twice, before and after the step; "
            "segments before it are flagged."
            if step < 0
            else "No footage is missing: these times were skipped."
        )
    )
    with transaction.atomic():
        gap = Gap.objects.create(
            camera=camera,
            start=min(before, at),
            end=max(before, at),
            cause=Gap.Cause.CLOCK_STEP,
            detail=detail,
        )
        outbox.report(outbox.GAP_OPENED, gap)
        outbox.report(outbox.GAP_CLOSED, gap)
    note = f"recorded before the clock stepped back {abs(step):.1f} s at {at:%H:%M:%S}Z"
    for segment in Segment.objects.filter(camera=camera, end__gt=at).chained():
        segment.note = "; ".join(n for n in (segment.note, note) if n)
        segment.clock_synced = False
        with transaction.atomic():
            segment.save(update_fields=["note", "clock_synced"])
            outbox.report(outbox.SEGMENT_EVENT, segment, event="clock_flagged", at=at, note=note)
    logger.warning("camera %s: %s", camera, detail)
    return gap


def clock_behind_footage(camera: Camera, now: datetime, synced: bool | None) -> Gap | None:
    """At start-up the clock reads earlier than footage already recorded (a Pi without a
    battery clock booted with a saved time after a power cut): what follows would claim
    times already claimed. A clock-step Gap says so; which footage is wrong depends on
    whether the clock is synchronised now."""
    last = Segment.objects.filter(camera=camera).last_chained()
    if last is None or (last.end - now).total_seconds() <= 2:
        return None
    if Gap.objects.filter(camera=camera, cause=Gap.Cause.CLOCK_STEP, end=last.end).exists():
        return None  # said at an earlier start
    if synced:
        return record_clock_step(camera, (now - last.end).total_seconds(), now)
    ahead = (last.end - now).total_seconds()
    detail = (
        f"At recorder start the clock read {now:%Y-%m-%d %H:%M:%S} UTC, {ahead:.0f} s "
        f"before the end of footage already recorded ({last.end:%Y-%m-%d %H:%M:%S} UTC), and "
        "it is not synchronised (NTP): footage recorded until it is carries times that are "
        "too early, and its segments say they were not synchronised."
    )
    with transaction.atomic():
        gap = Gap.objects.create(
            camera=camera, start=now, end=last.end, cause=Gap.Cause.CLOCK_STEP, detail=detail
        )
        outbox.report(outbox.GAP_OPENED, gap)
        outbox.report(outbox.GAP_CLOSED, gap)
    logger.warning("camera %s: %s", camera, detail)
    return gap
