"""One clip of a run of footage, cut without re-encoding.

Clips start on the keyframe at or before the window's start and are the recorded fragments
themselves (fmp4.py), or FFmpeg's stream copy of them for a file that module does not handle.
(`-ss` before a concat input does not seek in our index-less fragmented-MP4 segments: it copied
everything from the segment's start and hid it behind an MP4 edit list; a 2-minute window gave
238 s of frames.)
"""

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from crimebox import ffprobe, ffrun
from crimebox.hashing import BackgroundSha256
from crimebox.utc import utc_iso

from .. import ffmpeg
from ..models import Segment
from . import fmp4
from .plan import ExportError, Piece

Sink = Callable[[bytes], object]  # a file's write (its count is not used)


def cut_clip(piece: Piece, start: datetime, end: datetime, work: Path, sink: Sink) -> dict:
    """Write the window of one run into `sink`, block by block; its manifest entry.

    The clip starts on the keyframe at or before the window's start (stream copy cannot start
    elsewhere) and holds nothing earlier: the manifest states that pre-roll and exactly the
    interval the file holds. The recorded fragments are copied as they are (fmp4.py);
    a file that module does not handle is cut by FFmpeg's stream copy instead.
    """
    clip_start, clip_end = piece.window(start, end)
    used = [s for s in piece.segments if s.end > clip_start] or piece.segments[-1:]
    first = used[0]
    offset = max((clip_start - first.start).total_seconds(), 0)
    until = (clip_end - first.start).total_seconds()
    size = 0
    with BackgroundSha256() as digest:

        def take(block: bytes) -> None:
            nonlocal size
            digest.update(block)
            size += len(block)
            sink(block)

        still_open = used[-1].is_recording
        try:
            spliced = fmp4.splice(
                [s.abs_path for s in used], offset, until, take, last_open=still_open
            )
        except fmp4.Unsupported as e:
            if still_open:  # FFmpeg would read past the last complete fragment
                raise ExportError(
                    f"The footage of {piece.camera} still being recorded cannot be cut before "
                    f"its segment closes: {e}"
                ) from None
            key, how = ffmpeg_copy(used, offset, until, work, take)
            how["fragment_copy_refused"] = str(e)
        else:
            key = spliced.start
            by_path = {s.abs_path: s.pk for s in used}
            how = {
                "method": "fragment copy",
                "source_ranges": [
                    {"segment": by_path[path], "first_byte": a, "end_byte": b}
                    for path, a, b in spliced.ranges
                ],
            }
    held_from = first.start + timedelta(seconds=key)
    return {
        "sha256": digest.hexdigest(),
        "size": size,
        "camera": piece.camera.name,
        "start": utc_iso(held_from),
        "end": utc_iso(clip_end),
        "duration": round((clip_end - held_from).total_seconds(), 6),
        "window_start": utc_iso(clip_start),
        "pre_roll": round((clip_start - held_from).total_seconds(), 6),
        "codec": first.codec,
        "width": first.width,
        "height": first.height,
        "fps": first.fps,
        **how,
        "source_segments": [s.pk for s in used],
    }


def ffmpeg_copy(
    used: list[Segment], offset: float, until: float, work: Path, take: Sink
) -> tuple[float, dict]:
    """The clip by FFmpeg's stream copy: (its first keyframe, s into the first segment; how)."""
    key = ffprobe.keyframe_at_or_before(used[0].abs_path, offset) if offset > 0 else 0.0
    listing = work / "clip.ffconcat"
    listing.write_text(ffmpeg.concat_listing([s.abs_path for s in used], key))
    argv = ffmpeg.clip_argv(listing, until - key)
    try:
        ffrun.stream_stdout(argv, take, ffmpeg.clip_timeout(sum(s.size for s in used)))
    finally:
        listing.unlink(missing_ok=True)
    shown = [os.path.basename(a) if a.startswith(str(work)) else a for a in argv]
    return key, {"method": "ffmpeg stream copy", "ffmpeg_argv": shown}
