"""What an export takes: the contiguous runs of footage of a window (the segment being
recorded too, as far as its complete fragments reach), and whether the package fits above
the space kept for recording."""

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from cameras.models import Camera

from ..models import Segment
from ..retention import free_floor
from ..validators import check_export_window
from .recording import StillRecordingError, as_recorded, recorded_so_far

CONTIGUOUS = timedelta(seconds=0.5)  # closer than this, two segments are one run


class ExportError(ValueError):
    """Bad export input; the message is for the user."""


@dataclass
class Piece:
    camera: Camera
    segments: list[Segment] = field(default_factory=list)

    def window(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        return max(start, self.segments[0].start), min(end, self.segments[-1].end)


def plan(cameras: list[Camera], start: datetime, end: datetime) -> list[Piece]:
    """The contiguous runs of footage to cut, or ExportError saying why there is nothing."""
    try:
        check_export_window(start, end)
    except ValidationError as e:
        raise ExportError(e.messages[0]) from None
    if not cameras:
        raise ExportError("Choose at least one camera.")
    pieces: list[Piece] = []
    for camera in cameras:
        segments = list(
            Segment.objects.filter(camera=camera).overlapping(start, end).order_by("start")
        )
        on_disk = [s for s in segments if s.is_on_disk and s.status != Segment.Status.CORRUPT]
        on_disk = sorted(on_disk + recording_in(camera, start, end), key=lambda s: s.start)
        for segment in on_disk:
            if (
                pieces
                and pieces[-1].camera == camera
                and segment.start - pieces[-1].segments[-1].end < CONTIGUOUS
            ):
                pieces[-1].segments.append(segment)
            else:
                pieces.append(Piece(camera, [segment]))
    if not pieces:
        gone = (
            Segment.objects.filter(camera__in=cameras)
            .overlapping(start, end)
            .exclude(status__in=Segment.ON_DISK)
        )
        if gone.exists():
            raise ExportError(
                "The footage of this window is no longer on the box (deleted by retention or "
                f"missing): {', '.join(sorted({s.get_status_display() for s in gone}))}."
            )
        raise ExportError("There is no footage from the chosen camera(s) in this window.")
    return pieces


def recording_in(camera: Camera, start: datetime, end: datetime) -> list[Segment]:
    """The segment being recorded, as far as its file holds complete fragments, if that
    reaches into the window (recording.py)."""
    found = []
    for segment in Segment.objects.filter(camera=camera, start__lt=end).recording():
        try:
            recorded = recorded_so_far(segment)
        except StillRecordingError as e:
            raise ExportError(str(e)) from None
        if recorded is not None and recorded.end > start:
            found.append(as_recorded(segment, recorded))
    return found


def check_space(pieces: list[Piece], out_dir: Path, include_originals: bool) -> None:
    """An export never takes the space recording needs: the package (at most the source bytes,
    twice with originals) must fit above retention's free-space floor."""
    sources = sum(s.size for p in pieces for s in p.segments)
    need = sources * (2 if include_originals else 1)
    usage = shutil.disk_usage(out_dir)
    shares_disk = out_dir.stat().st_dev == Path(settings.RECORDINGS_DIR).stat().st_dev
    room = usage.free - (free_floor(usage.total) if shares_disk else 0)
    if need > room:
        raise ExportError(
            f"Not enough free space for this export: it needs up to {need / 1e9:.2f} GB and "
            f"{max(room, 0) / 1e9:.2f} GB are free above the space kept for recording. Export "
            "a shorter window, leave out the originals, or free space."
        )
