"""Adding closed segment files to the index: hash, probe, append to the camera's chain.

Called by the recorder when FFmpeg reports a closed segment, and by start-up recovery for
files the database does not know. Slow work (hashing, ffprobe) happens before the short
IMMEDIATE transaction that appends the row, so writers never wait on disk I/O.
"""

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cameras.models import Camera
from crimebox import outbox
from crimebox.clock import clock_synchronized
from crimebox.hashing import GENESIS, sha256_file

from . import ffmpeg
from .evidence.hashing import segment_chain_hash
from .models import LegalHold, Segment

logger = logging.getLogger(__name__)

# Segment files are named <UTC start>.mp4, e.g. 20261124T141500Z.mp4
NAME_RE = re.compile(r"^(?P<ts>\d{8}T\d{6})Z\.mp4$")


def segment_dir(camera: Camera, day: datetime) -> Path:
    return Path(settings.RECORDINGS_DIR) / camera.slug / day.astimezone(UTC).strftime("%Y-%m-%d")


def start_from_name(path: Path) -> datetime | None:
    m = NAME_RE.match(path.name)
    if not m:
        return None
    return datetime.strptime(m["ts"], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def relative_path(path: Path) -> str:
    return str(Path(path).resolve().relative_to(Path(settings.RECORDINGS_DIR).resolve()))


def open_segment(camera: Camera, path: Path) -> Segment | None:
    """A row for the file FFmpeg is writing now: it shows (and plays) while it is recorded.

    It has no hash and no place in the chain until `index_segment` finalises it at close.
    Nothing is done for a file that already has a row (closed and indexed first).
    """
    start = start_from_name(Path(path))
    rel = relative_path(path)
    if start is None or Segment.objects.filter(path=rel).exists():
        return None
    return Segment.objects.create(
        camera=camera,
        start=start,
        end=start,
        duration=0,
        size=0,
        path=rel,
        status=Segment.Status.RECORDING,
        on_hold=LegalHold.objects.filter(camera=camera).active().covering(start).exists(),
    )


def index_segment(
    camera: Camera,
    path: Path,
    *,
    start: datetime | None = None,
    status: str = Segment.Status.COMPLETE,
    note: str = "",
    now: datetime | None = None,
) -> Segment:
    """Hash and probe a closed file and append it to the camera's chain.

    `start` is the UTC time of the first frame when the caller knows it better than the file
    name (the recorder does); the end is start + the media duration from ffprobe. A row made
    by `open_segment` for this file is completed in place. Safe to call twice.
    Raises ffmpeg.FFmpegError for a file with no readable video (the caller decides).
    """
    path = Path(path)
    rel = relative_path(path)
    existing = Segment.objects.filter(path=rel).first()
    if existing is not None and not existing.is_recording:
        return existing  # a file is indexed once, never rehashed here
    info = ffmpeg.probe(path)
    digest = sha256_file(path)
    size = path.stat().st_size
    start = start or start_from_name(path)
    if start is None:
        raise ffmpeg.FFmpegError(f"cannot tell the start time of {path.name}")
    end = start + timedelta(seconds=info.duration)
    now = now or timezone.now()
    with transaction.atomic():
        last = Segment.objects.filter(camera=camera).last_chained()
        sequence = last.sequence + 1 if last else 1
        fields = dict(
            camera=camera,
            sequence=sequence,
            start=start,
            end=end,
            duration=info.duration,
            size=size,
            codec=info.codec,
            width=info.width,
            height=info.height,
            fps=info.fps,
            has_audio=info.has_audio,
            path=rel,
            sha256=digest,
            chain_hash=segment_chain_hash(
                camera_id=camera.pk,
                sequence=sequence,
                prev=last.chain_hash if last else GENESIS,
                sha256=digest,
                start=start,
                end=end,
                size=size,
            ),
            status=status,
            on_hold=LegalHold.objects.filter(camera=camera)
            .active()
            .overlapping(start, end)
            .exists(),
            hashed_at=timezone.now(),
            clock_synced=clock_synchronized(),
            note=note,
        )
        if existing is not None:
            Segment.objects.filter(pk=existing.pk).update(**fields)
            segment = Segment.objects.get(pk=existing.pk)
        else:
            segment = Segment.objects.create(**fields)
        Camera.objects.filter(pk=camera.pk).update(last_segment_at=now)
        outbox.report(outbox.SEGMENT, segment)
    logger.info("indexed %s seq=%d %.1fs sha256=%s", rel, sequence, info.duration, digest[:12])
    return segment
