"""Pure functions that build FFmpeg/ffprobe argv lists, and the ffprobe wrapper.

Never shell=True, never killall: callers own the processes they start.
"""

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from django.conf import settings

from cameras.models import redact_text


class FFmpegError(Exception):
    """FFmpeg or ffprobe failed; the message is one readable line."""


@dataclass
class MediaInfo:
    duration: float
    codec: str = ""
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    has_audio: bool = False
    start_time: float = 0.0
    frames: int | None = None  # video packets, when counted (files, not streams)
    nominal_fps: float | None = None  # the stream's declared rate (r_frame_rate)

    @property
    def has_media(self) -> bool:
        """False for a file that declares a video stream but holds not one packet of it
        (FFmpeg killed right after writing the header): measured 885 bytes, 0 s."""
        return self.duration > 0 and self.frames != 0


def ffprobe_argv(source: str, timeout_seconds: float | None = None) -> list[str]:
    """For a file, packets are counted too (demuxing only, no decoding): the frame count is
    checked against the duration and the wall clock."""
    argv = [
        settings.FFPROBE,
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ]
    if source.startswith("rtsp://"):
        argv += ["-rtsp_transport", "tcp", "-timeout", str(int((timeout_seconds or 10) * 1e6))]
    else:
        argv += ["-count_packets"]
    return argv + [source]


def _rate(text: str | None) -> float | None:
    if not text or text == "0/0":
        return None
    try:
        return round(float(Fraction(text)), 3)
    except (ValueError, ZeroDivisionError):
        return None


def parse_ffprobe(data: dict) -> MediaInfo:
    """MediaInfo from ffprobe's JSON (-show_format -show_streams)."""
    streams = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise FFmpegError("no video stream")
    fmt = data.get("format") or {}
    duration = fmt.get("duration") or video.get("duration") or 0
    packets = video.get("nb_read_packets")
    return MediaInfo(
        duration=float(duration),
        codec=video.get("codec_name", ""),
        width=video.get("width"),
        height=video.get("height"),
        fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        start_time=float(fmt.get("start_time") or 0),
        frames=int(packets) if packets is not None else None,
        nominal_fps=_rate(video.get("r_frame_rate")),
    )


def probe(source: str | Path, timeout_seconds: float = 15) -> MediaInfo:
    """ffprobe a file or a stream URL. Raises FFmpegError with one line (no credentials)."""
    argv = ffprobe_argv(str(source), timeout_seconds)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_seconds + 5)
    except subprocess.TimeoutExpired:
        raise FFmpegError(f"ffprobe timed out after {timeout_seconds:g} s") from None
    except FileNotFoundError:
        raise FFmpegError(f"{settings.FFPROBE} not found: install ffmpeg") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise FFmpegError(
            redact_text(lines[-1]) if lines else f"ffprobe exited with {proc.returncode}"
        )
    try:
        return parse_ffprobe(json.loads(proc.stdout))
    except (ValueError, TypeError) as e:
        raise FFmpegError(f"unreadable ffprobe output: {e}") from None


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
