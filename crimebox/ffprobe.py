"""The ffprobe wrapper: what a file or a stream holds. Raises FFmpegError, one line, redacted.

Cameras probe their streams with it and recordings their files, so it sits below both.
"""

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from django.conf import settings

from crimebox.redaction import redact_text


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


def parse_ffprobe(data: dict, counted: bool = False) -> MediaInfo:
    """MediaInfo from ffprobe's JSON (-show_format -show_streams [-count_packets]).

    ffprobe leaves nb_read_packets out when it counted none: `counted` says it counted.
    """
    streams = data.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise FFmpegError("no video stream")
    fmt = data.get("format") or {}
    duration = fmt.get("duration") or video.get("duration") or 0
    packets = video.get("nb_read_packets", 0 if counted else None)
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
        return parse_ffprobe(json.loads(proc.stdout), counted="-count_packets" in argv)
    except (ValueError, TypeError) as e:
        raise FFmpegError(f"unreadable ffprobe output: {e}") from None
