"""Opening and closing Gap rows: every interval without recording, with its cause."""

import logging
import re
from datetime import datetime

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


def classify_exit(last_error: str, returncode: int | None = None) -> str:
    """The Gap cause for an FFmpeg exit, from its last error line."""
    if returncode == 0 and not last_error:
        return Gap.Cause.CAMERA_UNREACHABLE  # measured: the camera ending the stream exits 0
    if "no space left on device" in last_error.lower():
        return Gap.Cause.DISK_FULL
    if _UNREACHABLE.search(last_error):
        return Gap.Cause.CAMERA_UNREACHABLE
    return Gap.Cause.FFMPEG_EXITED


def last_media_end(camera: Camera) -> datetime | None:
    last = Segment.objects.filter(camera=camera).only("end").last_chained()
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
    if gap is None or gap.end == first_start or abs((gap.end - first_start).total_seconds()) >= 30:
        return
    with transaction.atomic():
        Gap.objects.filter(pk=gap.pk).update(end=first_start)
        gap.end = first_start
        outbox.report(outbox.GAP_CLOSED, gap)  # the corrected end, as a new document
