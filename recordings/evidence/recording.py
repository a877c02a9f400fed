"""Footage still being recorded, in an export: up to the last complete fragment.

A segment FFmpeg is still writing has no SHA-256 yet, but its fragments already written never
change (fmp4.py): an export takes them, and its manifest states the byte range of the
open file it relied on (`recorded_prefix`: from byte 0 to the end of the last byte the clip
copied) and that range's SHA-256. Once the segment closes, its hashed and chained file must
begin with exactly those bytes: `verify_evidence --recordings DIR` checks it on the box, and
the closed segment's SHA-256 (replicated to the datacenter) then proves them.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

from ..models import Segment
from . import fmp4

BLOCK = 4 << 20


class StillRecordingError(ValueError):
    """The open segment cannot be read up to a fragment: the message is for the user."""


@dataclass
class Recorded:
    end: datetime  # wall-clock end of the last complete fragment
    complete_end: int  # file offset after it


def recorded_so_far(segment: Segment) -> Recorded | None:
    """How far the open segment's file holds complete fragments; None while it holds none."""
    try:
        movie = fmp4.read_movie(segment.abs_path, still_open=True)
    except fmp4.Unsupported as e:
        if "no complete fragments" in str(e):
            return None
        local = timezone.localtime(segment.start)
        raise StillRecordingError(
            f"The footage of {segment.camera} from {local:%H:%M:%S} is still being recorded "
            f"in a form that cannot be cut before its segment closes ({e}). Export this "
            f"window after that, or end it before {local:%H:%M:%S}."
        ) from None
    except FileNotFoundError:
        return None
    return Recorded(segment.start + timedelta(seconds=movie.seconds), movie.complete_end)


def as_recorded(segment: Segment, recorded: Recorded) -> Segment:
    """The row as the export sees it (never saved): its end and size are what is recorded."""
    segment.end, segment.size = recorded.end, recorded.complete_end
    segment.duration = (recorded.end - segment.start).total_seconds()
    return segment


def prefix_of(path: Path, end_byte: int) -> dict:
    """`recorded_prefix`: the SHA-256 of bytes [0, end_byte) of the open file."""
    digest, left = hashlib.sha256(), end_byte
    with Path(path).open("rb") as f:
        while left:
            block = f.read(min(BLOCK, left))
            if not block:
                raise OSError(f"{Path(path).name} shrank while being read")
            digest.update(block)
            left -= len(block)
    return {"first_byte": 0, "end_byte": end_byte, "sha256": digest.hexdigest()}


def check_prefix(entry: dict, recordings_dir: Path) -> tuple[bool, str]:
    """(ok, what) for one source segment exported while it was recorded, against its file on
    this box (by then usually closed, hashed and chained)."""
    prefix = entry["recorded_prefix"]
    path = recordings_dir / entry["path"]
    name = f"{entry['camera']} {entry['file']}"
    if not path.is_file():
        return False, f"{name}: not found under {recordings_dir} (recorded bytes unchecked)"
    if prefix_of(path, min(prefix["end_byte"], path.stat().st_size)) != prefix:
        return False, f"{name}: its first {prefix['end_byte']} bytes are not the ones exported"
    return True, f"{name}: the {prefix['end_byte']} bytes exported while it was recorded"
