"""Pure functions that build FFmpeg argv lists (the ffprobe wrapper is crimebox/ffprobe.py).

Never shell=True, never killall: callers own the processes they start.
"""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

# Re-exported: the recorder, index and export call ffmpeg.probe next to the argv builders.
from crimebox.ffprobe import FFmpegError as FFmpegError
from crimebox.ffprobe import probe as probe

# Fragmented MP4: a kill -9 or power cut leaves every fragment already written playable
# (measured: plain MP4 loses the whole open file, "moov atom not found"). flush_packets=1
# writes each fragment through at once: measured, a kill -9 then loses only the fragment in
# progress (< 1 GOP) instead of the last 256 KiB the segment muxer's buffer held.
FRAGMENTED_MP4 = "movflags=+frag_keyframe+empty_moov+default_base_moof:flush_packets=1"
TEST_PATTERN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def segment_output_args(out_template: str, segment_seconds: int) -> list[str]:
    """Segment muxer: clock-aligned cuts on keyframes, closed files reported on stdout as CSV.

    Files are numbered (`%06d` in the template), never named from the clock: with -strftime
    a clock stepped back makes FFmpeg reuse the name of a closed, hashed segment and truncate
    it (measured: 10 of 10 segments of the minute before a 60 s step rewritten). The caller
    makes the rest of the name unique per run.
    """
    return [
        "-f",
        "segment",
        "-segment_time",
        str(segment_seconds),
        "-segment_atclocktime",
        "1",
        "-segment_format",
        "mp4",
        "-segment_format_options",
        FRAGMENTED_MP4,
        "-reset_timestamps",
        "1",
        "-segment_list",
        "pipe:1",
        "-segment_list_type",
        "csv",
        out_template,
    ]


def record_argv(
    url: str, out_template: str, *, segment_seconds: int, timeout_seconds: int, audio: bool = False
) -> list[str]:
    """Stream-copy one RTSP camera into segments. Never re-encodes."""
    maps = ["-map", "0:v:0"] + (["-map", "0:a:0?"] if audio else [])
    return [
        settings.FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-rtsp_transport",
        "tcp",
        # Socket I/O timeout (µs): a silent camera makes FFmpeg exit instead of hanging.
        "-timeout",
        str(timeout_seconds * 1_000_000),
        "-fflags",
        "+genpts",
        "-i",
        url,
        *maps,
        "-c",
        "copy",
        *segment_output_args(out_template, segment_seconds),
    ]


def test_pattern_argv(
    out_template: str, *, segment_seconds: int, size: str = "640x360", fps: int = 10
) -> list[str]:
    """The built-in test camera: FFmpeg's test source with a UTC clock, cheaply encoded.

    The only recording that encodes; -re paces it like a live camera.
    """
    overlay = (
        f"drawtext=fontfile={TEST_PATTERN_FONT}:text=%{{gmtime}} UTC:fontsize=20:"
        "fontcolor=white:box=1:boxcolor=black@0.6:x=8:y=8"
    )
    return [
        settings.FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={fps}",
        "-vf",
        overlay if Path(TEST_PATTERN_FONT).exists() else "null",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-g",
        str(fps),
        "-pix_fmt",
        "yuv420p",
        *segment_output_args(out_template, segment_seconds),
    ]


@dataclass
class ClosedSegment:
    name: str
    start: float  # seconds of stream time since this FFmpeg run began
    end: float


def parse_segment_list_line(line: str) -> ClosedSegment | None:
    """One line of `-segment_list_type csv`: name,start,end (name may be quoted)."""
    line = line.strip()
    if not line:
        return None
    try:
        name, start, end = line.rsplit(",", 2)
        return ClosedSegment(name=name.strip('"'), start=float(start), end=float(end))
    except ValueError:
        return None
