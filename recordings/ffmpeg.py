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


def ffprobe_argv(source: str, timeout_seconds: float | None = None) -> list[str]:
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
    return argv + [source]


def parse_ffprobe(data: dict) -> MediaInfo:
    """MediaInfo from ffprobe's JSON (-show_format -show_streams)."""
    streams = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise FFmpegError("no video stream")
    fmt = data.get("format") or {}
    duration = fmt.get("duration") or video.get("duration") or 0
    fps = None
    rate = video.get("avg_frame_rate") or video.get("r_frame_rate")
    if rate and rate != "0/0":
        fps = round(float(Fraction(rate)), 3)
    return MediaInfo(
        duration=float(duration),
        codec=video.get("codec_name", ""),
        width=video.get("width"),
        height=video.get("height"),
        fps=fps,
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        start_time=float(fmt.get("start_time") or 0),
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
    """Segment muxer: clock-aligned cuts on keyframes, closed files reported on stdout as CSV."""
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
        "-strftime",
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
    return [*test_pattern_source(size, fps), *segment_output_args(out_template, segment_seconds)]


def test_pattern_source(size: str, fps: int) -> list[str]:
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


# Live view (docs/live.md): HLS with fMP4 segments of about one second, cut on the camera's
# keyframes (stream copy cannot cut elsewhere, so its keyframe interval sets the latency).
# temp_file: a segment appears under its name only once complete, so the web never serves
# half of one; delete_segments keeps the RAM directory at a few seconds of video.
LIVE_PLAYLIST = "index.m3u8"


def live_hls_args(out_dir: Path) -> list[str]:
    return [
        "-f",
        "hls",
        "-hls_time",
        "1",
        "-hls_list_size",
        "6",
        "-hls_delete_threshold",
        "2",
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_segment_filename",
        str(out_dir / "seg%06d.m4s"),
        "-hls_flags",
        "delete_segments+independent_segments+temp_file+omit_endlist",
        str(out_dir / LIVE_PLAYLIST),
    ]


def live_argv(url: str, out_dir: Path, *, timeout_seconds: int) -> list[str]:
    """Stream-copy a camera's (sub)stream into live HLS. Never re-encodes; video only."""
    return [
        settings.FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-rtsp_transport",
        "tcp",
        "-timeout",
        str(timeout_seconds * 1_000_000),
        "-fflags",
        "+genpts",
        "-i",
        url,
        "-map",
        "0:v:0",
        "-c",
        "copy",
        *live_hls_args(out_dir),
    ]


def test_pattern_live_argv(out_dir: Path, *, size: str = "640x360", fps: int = 10) -> list[str]:
    """Live view of the built-in test camera: like its recording, the one case that encodes."""
    return [*test_pattern_source(size, fps), *live_hls_args(out_dir)]
