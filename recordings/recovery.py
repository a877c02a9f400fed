"""Start-up recovery: make the index match the disk after a crash, a reboot or a stop.

- files the database does not know (the segment open at a crash, files closed while the
  recorder was down) are indexed as partial;
- rows whose file vanished are marked missing, with a warning;
- every enabled camera gets an open "recorder down" gap from its last media, closed when its
  new FFmpeg run writes the first frame.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from cameras.models import Camera
from crimebox import ffrun, outbox
from crimebox.clock import clock_synchronized

from .evidence import prefixes
from .gaps import clock_behind_footage, open_gap
from .index import camera_files, index_segment, mark_lost, relative_path
from .models import Gap, Segment

logger = logging.getLogger(__name__)


@dataclass
class RecoveryResult:
    indexed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    gaps: int = 0


def index_unknown_files(
    camera: Camera,
    *,
    paths: list[Path] | None = None,
    starts: dict[str, datetime] | None = None,
    note: str,
    result: RecoveryResult | None = None,
) -> RecoveryResult:
    """Index the camera's files that were never closed in the index, oldest first, as partial.

    That is files with no row and files whose row still says "recording". `paths` limits it
    to the files of one ended FFmpeg run (else every file of the camera); `starts` maps a file
    name to its known first-frame time (from the recorder), else it is estimated from the file
    (index.estimated_start). Call it only while no FFmpeg records this camera: "recording"
    rows left afterwards (their file vanished or held no media) are marked lost, since no
    file is being written.
    """
    result = result or RecoveryResult()
    known = set(Segment.objects.filter(camera=camera).chained().values_list("path", flat=True))
    for path in sorted(paths) if paths is not None else camera_files(camera):
        rel = relative_path(path)
        if rel in known or not path.is_file():
            continue
        if path.stat().st_size == 0:
            path.unlink()  # FFmpeg opened it and died before the first byte: nothing to keep
            continue
        try:
            index_segment(
                camera,
                path,
                start=(starts or {}).get(path.name),
                status=Segment.Status.PARTIAL,
                note=note,
            )
            result.indexed.append(rel)
        except ffrun.FFmpegError as e:
            # Not one readable frame (FFmpeg died right after opening it). Kept for a person
            # to look at, renamed so it is not retried at every start; said loudly.
            path.rename(path.with_name(path.name + ".unreadable"))
            logger.error(
                "camera %s: no readable media in %s (%s); kept as %s.unreadable",
                camera,
                rel,
                e,
                path.name,
            )
            result.unreadable.append(rel)
    for stale in Segment.objects.filter(camera=camera).recording():
        mark_lost(
            camera, stale.abs_path, "was being recorded but left no readable file: never hashed"
        )
    return result


def mark_missing(camera: Camera, result: RecoveryResult) -> None:
    for segment in Segment.objects.filter(camera=camera, status__in=Segment.HASHED_FILES):
        if not segment.abs_path.exists():
            now = timezone.now()
            note = f"file not found at start-up {now:%Y-%m-%d %H:%M:%S}Z"
            with transaction.atomic():
                Segment.objects.filter(pk=segment.pk).update(
                    status=Segment.Status.MISSING, note=note
                )
                outbox.report(outbox.SEGMENT_EVENT, segment, event="missing", at=now, note=note)
            logger.warning(
                "camera %s: segment %s is missing its file %s", camera, segment.pk, segment.path
            )
            result.missing.append(segment.path)


def recover(now: datetime | None = None) -> RecoveryResult:
    now = now or datetime.now(UTC)
    result = RecoveryResult()
    synced = clock_synchronized()
    for camera in Camera.objects.all():
        mark_missing(camera, result)
        index_unknown_files(camera, note="recovered at recorder start-up", result=result)
        clock_behind_footage(camera, now, synced)
        if camera.is_enabled and Segment.objects.filter(camera=camera).exists():
            if not Gap.objects.filter(camera=camera).open().exists():
                open_gap(
                    camera,
                    Gap.Cause.RECORDER_DOWN,
                    "recorder was not running (crash, power cut or reboot)",
                    now,
                )
                result.gaps += 1
    prefixes.settle()  # owed by segments indexed just before the recorder stopped
    return result
