"""Adding closed segment files to the index: hash, probe, append to the camera's chain.

Called by the recorder when FFmpeg reports a closed segment, and by start-up recovery for
files the database does not know. Slow work (hashing, ffprobe) happens before the short
IMMEDIATE transaction that appends the row, so writers never wait on disk I/O.
"""

import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cameras.models import Camera
from crimebox import ffprobe, outbox
from crimebox.clock import clock_synchronized
from crimebox.ffprobe import MediaInfo
from crimebox.ffrun import FFmpegError
from crimebox.hashing import GENESIS, sha256_file

from .evidence import prefixes
from .evidence.hashing import segment_chain_hash
from .models import LegalHold, Segment
from .timing import media_warning

logger = logging.getLogger(__name__)

# Segment files are named <run start, UTC>Z-<number in the run>.mp4, e.g.
# 20261124T141500Z-000012.mp4: FFmpeg numbers the files of a run, and no two runs of a
# camera start in the same second (the recorder waits), so no name is ever used twice,
# whatever the clock does. Boxes before that wrote <UTC start>Z.mp4, still understood.
NAME_RE = re.compile(r"^(?P<ts>\d{8}T\d{6})Z(?:-(?P<n>\d{6}))?\.mp4$")
# A file that a restart made start this much before the previous segment's end is clamped
# (measured: up to 1.96 s); more is a clock step, flagged instead.
MAX_RESTART_OVERLAP = 5.0


def camera_dir(camera: Camera) -> Path:
    """The layout, written once: <RECORDINGS_DIR>/<camera slug>/<UTC day>/<file name>."""
    return Path(settings.RECORDINGS_DIR) / camera.slug


def segment_dir(camera: Camera, day: datetime) -> Path:
    return camera_dir(camera) / day.astimezone(UTC).strftime("%Y-%m-%d")


def camera_files(camera: Camera) -> list[Path]:
    """Every segment file of the camera on disk, in name order."""
    root = camera_dir(camera)
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*.mp4") if NAME_RE.match(p.name))


def stamp_of(path: Path) -> datetime | None:
    """The UTC second in the name: the file's start (old names) or its run's start."""
    m = NAME_RE.match(Path(path).name)
    if not m:
        return None
    return datetime.strptime(m["ts"], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def start_from_name(path: Path) -> datetime | None:
    """The start a name tells: only old, clock-named files say when they began."""
    m = NAME_RE.match(Path(path).name)
    return stamp_of(path) if m and m["n"] is None else None


def run_template(camera: Camera, started: datetime) -> Path:
    """FFmpeg's output template for a run started at `started`: numbered files."""
    return segment_dir(camera, started) / f"{started:%Y%m%dT%H%M%S}Z-%06d.mp4"


def run_name_taken(camera: Camera, started: datetime) -> bool:
    """Any file already carries this second (a run, or an old clock-named file): a run
    starting now could write a name that exists. The caller waits a second."""
    folder = segment_dir(camera, started)
    stamp = f"{started:%Y%m%dT%H%M%S}Z"
    return folder.is_dir() and any(folder.glob(f"{stamp}*.mp4"))


def estimated_start(path: Path, duration: float) -> datetime | None:
    """When nobody saw the file close: it ends at its last write (fragments are flushed as
    they are written) and starts `duration` before, but not before its run began."""
    stamp = stamp_of(path)
    if stamp is None:
        return None
    if start_from_name(path) is not None:
        return stamp
    ended = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return max(stamp, ended - timedelta(seconds=duration))


def relative_path(path: Path) -> str:
    """The row's path. Resolved without needing the file (it may be gone)."""
    root = Path(settings.RECORDINGS_DIR).resolve()
    return str(Path(path).parent.resolve().joinpath(Path(path).name).relative_to(root))


def open_segment(camera: Camera, path: Path, start: datetime | None = None) -> Segment | None:
    """A row for the file FFmpeg is writing now: it shows (and plays) while it is recorded.

    It has no hash and no place in the chain until `index_segment` finalises it at close.
    `start` is the recorder's estimate (the file name of a run tells only the run's start).
    Nothing is done for a file that already has a row (closed and indexed first).
    """
    start = start or stamp_of(Path(path))
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


def mark_lost(camera: Camera, path: Path, why: str) -> int:
    """The "recording" row of a file that vanished before it was hashed: it says so."""
    updated = Segment.objects.filter(
        camera=camera, path=relative_path(path), status=Segment.Status.RECORDING
    ).update(status=Segment.Status.LOST, note=why)
    if updated:
        logger.error("camera %s: %s %s", camera, Path(path).name, why)
    return updated


@dataclass(frozen=True)
class Measured:
    """What a closed file is: probed, sealed and hashed (no database involved)."""

    info: MediaInfo
    sha256: str
    size: int
    hashed_at: datetime


def measure(path: Path) -> Measured:
    """Probe, seal (fsync, read-only) and hash a closed file. Slow I/O, no database: the
    recorder does it as soon as the file closes, whatever the database is doing.
    Raises FFmpegError (no readable video) or OSError (the file is gone)."""
    path = Path(path)
    info = ffprobe.probe(path)
    seal(path)
    digest = sha256_file(path)
    return Measured(info, digest, path.stat().st_size, timezone.now())


def index_segment(
    camera: Camera,
    path: Path,
    *,
    start: datetime | None = None,
    status: str = Segment.Status.COMPLETE,
    note: str = "",
    now: datetime | None = None,
    wall_seconds: float | None = None,
    measured: Measured | None = None,
) -> Segment:
    """Hash and probe a closed file and append it to the camera's chain.

    `start` is the UTC time of the first frame when the caller knows it better than the file
    (the recorder does); the end is start + the media duration from ffprobe. `wall_seconds`
    is how long the recorder saw the file take, checked against the media. A row made by
    `open_segment` for this file is completed in place. Safe to call twice.
    `measured` is the file's `measure()`, when the caller took it already.
    Raises FFmpegError for a file with no readable video (the caller decides).
    """
    path = Path(path)
    rel = relative_path(path)
    existing = Segment.objects.filter(path=rel).first()
    if existing is not None and not existing.is_recording:
        return existing  # a file is indexed once, never rehashed here
    measured = measured or measure(path)
    info, digest = measured.info, measured.sha256
    start = start or estimated_start(path, info.duration)
    if start is None:
        raise FFmpegError(f"cannot tell the start time of {path.name}")
    if not info.has_media:
        status = Segment.Status.NO_MEDIA
        note = _join(note, f"the file holds only a header: no media ({info.frames or 0} frames)")
    fields: dict[str, Any] = dict(
        camera=camera,
        duration=info.duration,
        size=measured.size,
        codec=info.codec,
        width=info.width,
        height=info.height,
        fps=info.fps,
        frames=info.frames,
        has_audio=info.has_audio,
        path=rel,
        sha256=digest,
        status=status,
        hashed_at=measured.hashed_at,
        clock_synced=clock_synchronized(),
        media_warning=media_warning(info, wall_seconds),
    )
    with transaction.atomic():
        last = Segment.objects.filter(camera=camera).last_chained()
        fields.update(_place_in_chain(camera, last, start, info.duration, digest, fields["size"]))
        fields["note"] = _join(note, fields.pop("clamp_note"))
        if existing is not None:
            Segment.objects.filter(pk=existing.pk).update(**fields)
            segment = Segment.objects.get(pk=existing.pk)
        else:
            segment = Segment.objects.create(**fields)
        Camera.objects.filter(pk=camera.pk).update(last_segment_at=now or timezone.now())
        outbox.report(outbox.SEGMENT, segment)
    logger.info(
        "indexed %s seq=%d %.1fs sha256=%s", rel, segment.sequence, info.duration, digest[:12]
    )
    prefixes.settle(segment)  # what exports took of it while it was recorded
    return segment


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def sync_to_disk(path: Path) -> None:
    """fsync a closed file and its folder, so a hash committed next vouches for bytes (and a
    directory entry) on the disk, not in the page cache a power cut empties."""
    path = Path(path)
    for target, flags in ((path, os.O_RDONLY), (path.parent, os.O_RDONLY | os.O_DIRECTORY)):
        fd = os.open(target, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def seal(path: Path) -> None:
    """On the disk before the hash is committed; read-only once closed (under the service
    user the recorder itself can then not write a closed segment)."""
    sync_to_disk(path)
    try:
        os.chmod(path, 0o444)
    except OSError as e:
        logger.warning("cannot make %s read-only: %s", path, e)


def _place_in_chain(
    camera: Camera, last: Segment | None, start: datetime, duration: float, digest: str, size: int
) -> dict[str, Any]:
    """Sequence, times and chain link of the next segment after `last`.

    A file of a restarted FFmpeg can start a little before the previous segment's end (its
    first frames were buffered before the run's first file opened): the same second is never
    claimed twice, so its start moves to that end, and the note says by how much.
    """
    end = start + timedelta(seconds=duration)
    clamp_note = ""
    overlap = (last.end - start).total_seconds() if last else 0
    if last is not None and 0 < overlap <= MAX_RESTART_OVERLAP:
        start = last.end
        end = max(end, start)
        clamp_note = f"start moved {overlap:.2f} s later to the previous segment's end"
    sequence = cast(int, last.sequence) + 1 if last else 1  # chained: it has its number
    return dict(
        sequence=sequence,
        start=start,
        end=end,
        clamp_note=clamp_note,
        chain_hash=segment_chain_hash(
            camera_id=camera.pk,
            sequence=sequence,
            # A chained segment always has its link (last_chained excludes the unchained).
            prev=cast(str, last.chain_hash) if last else GENESIS,
            sha256=digest,
            start=start,
            end=end,
            size=size,
        ),
        on_hold=LegalHold.objects.filter(camera=camera).active().overlapping(start, end).exists(),
    )
