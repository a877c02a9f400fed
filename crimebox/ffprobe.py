"""The ffprobe wrapper: what a file or a stream holds, where a file's keyframes are and which
interval its video really covers. Raises FFmpegError, one line, redacted.

Cameras probe their streams with it and recordings their files, so it sits below both.
"""

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from crimebox import rtsp_guard
from crimebox.atomic import write_atomic
from crimebox.ffrun import FFmpegError, check_exit, exit_error, run_tool
from crimebox.redaction import redact_text, redact_url


class StreamURLError(FFmpegError, ValueError):
    """A stream URL FFmpeg must not be given (not RTSP/RTSPS, or malformed)."""


# What FFmpeg may open for a camera stream: RTSP(S) and the transports under it, nothing else
# (no http:, file:, concat:, even if a device or a crafted URL names them).
RTSP_PROTOCOLS = ["-protocol_whitelist", "rtsp,rtsps,rtp,srtp,tcp,udp,tls"]
FILE_PROTOCOLS = ["-protocol_whitelist", "file"]
# FFmpeg has no option for RTSP credentials, and a URL on its command line is shown by `ps` to
# every user of the box. A URL with credentials is read from an ffconcat listing only the
# box's user can read; the concat demuxer hands its `option` lines to the RTSP input. Measured
# with the authenticating GStreamer camera (docs/roles.md): same first-packet time, same stall
# timeout, same clock-aligned segments as the URL given directly.
LISTING_PROTOCOLS = ["-protocol_whitelist", "file,rtsp,rtsps,rtp,srtp,tcp,udp,tls"]
LISTINGS_DIR = "ffmpeg-inputs"


def check_stream_url(url: str) -> str:
    """`url` when it is a well-formed rtsp:// or rtsps:// URL, else StreamURLError saying why.

    Applied to every URI before it is stored (typed, or returned by an ONVIF device) and again
    before FFmpeg or ffprobe is started with it.
    """
    url = url if isinstance(url, str) else ""
    # Shown on one line: a control character appears as its escape (\n), never as itself.
    shown = "".join(c if " " <= c != "\x7f" else repr(c)[1:-1] for c in redact_text(url)[:100])
    if not url.startswith(("rtsp://", "rtsps://")):
        raise StreamURLError(f"malformed RTSP URL (expected rtsp://host[:port]/path): {shown}")
    for c in url:
        if not " " < c <= "~":
            what = "a space or control character" if c <= " " or c == "\x7f" else "non-ASCII"
            name = unicodedata.name(c, "") if c > "~" else ""
            raise StreamURLError(
                f"malformed RTSP URL: it contains {what} (U+{ord(c):04X}"
                f"{' ' + name if name else ''}); type it in plain ASCII on one line: {shown}"
            )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise StreamURLError(f"malformed RTSP URL (bad host or port): {shown}") from None
    if not parts.hostname or port == 0:
        raise StreamURLError(f"malformed RTSP URL (expected rtsp://host[:port]/path): {shown}")
    return url


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
    if "://" in source:  # a stream: RTSP(S) only, checked, over its protocols only
        options, source = rtsp_source(source, timeout_seconds or 10)
        argv += options
    else:
        argv += [*FILE_PROTOCOLS, "-count_packets"]
    return argv + [source]


def rtsp_source(url: str, timeout_seconds: float) -> tuple[list[str], str]:
    """(input options, input) for FFmpeg or ffprobe to open a camera's RTSP(S) URL over TCP,
    its credentials never on the command line: a URL carrying some is written to a private
    ffconcat listing (see LISTING_PROTOCOLS). StreamURLError for anything but RTSP(S)."""
    url = check_stream_url(url)
    timeout = str(int(timeout_seconds * 1_000_000))  # socket I/O timeout, µs
    if url == redact_url(url):
        return [*RTSP_PROTOCOLS, "-rtsp_transport", "tcp", "-timeout", timeout], url
    listing = write_listing(url, ["rtsp_transport tcp", f"timeout {timeout}"])
    return [*LISTING_PROTOCOLS, "-f", "concat", "-safe", "0"], str(listing)


def write_listing(url: str, options: list[str]) -> Path:
    """The ffconcat listing of one URL, 0600 in a 0700 directory of the data directory;
    replaced atomically, one per stream and user name (a new password overwrites the old)."""
    folder = Path(settings.DATA_DIR) / LISTINGS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    # Named after the stream, as FFmpeg's errors start with it ("…: Connection refused").
    plain = redact_url(url)
    readable = re.sub(r"[^A-Za-z0-9.]+", "-", plain.split("://", 1)[-1]).strip("-")[:80]
    key = hashlib.sha256(f"{plain} {urlsplit(url).username}".encode()).hexdigest()[:8]
    path = folder / f"{readable}-{key}.ffconcat"
    quoted = "'" + url.replace("'", "'\\''") + "'"  # ffconcat: ' is written '\''
    text = "\n".join(["ffconcat version 1.0", f"file {quoted}", *(f"option {o}" for o in options)])
    write_atomic(path, text + "\n", 0o600)
    return path


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
    argv = ffprobe_argv(str(source), timeout_seconds)  # StreamURLError for a bad URL
    proc = run_tool(argv, timeout_seconds + 5)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        # Its last line starts with what it opened: the stream, not the private listing;
        # a redirect the relay refused is said before it.
        last = lines[-1].replace(argv[-1], str(source)) if lines else ""
        last = rtsp_guard.said(lines) or last
        raise exit_error(argv, proc.returncode, last)
    try:
        return parse_ffprobe(json.loads(proc.stdout), counted="-count_packets" in argv)
    except (ValueError, TypeError) as e:
        raise FFmpegError(f"unreadable ffprobe output: {e}") from None


def keyframes_argv(path: Path, offset: float, lookback: float | None) -> list[str]:
    """Video packet times and flags of one file, up to `offset` s (from `offset - lookback`)."""
    since = "" if lookback is None else f"{max(offset - lookback, 0):.6f}"
    return [
        settings.FFPROBE,
        "-v",
        "error",
        *FILE_PROTOCOLS,
        "-i",
        str(path),
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=pts_time,flags",
        "-read_intervals",
        f"{since}%{offset + 0.001:.6f}",
        "-of",
        "csv=p=0",
    ]


def _last_keyframe(argv: list[str], offset: float, timeout_seconds: float) -> float | None:
    proc = run_tool(argv, timeout_seconds)
    check_exit(argv, proc)
    times = []
    for line in proc.stdout.split():
        pts, _, flags = line.partition(",")
        if "K" in flags:
            try:
                times.append(float(pts))
            except ValueError:
                continue
    return max((t for t in times if t <= offset + 1e-6), default=None)


def keyframe_at_or_before(path: Path, offset: float, timeout_seconds: float = 60) -> float:
    """Time (s from the file's start) of the last keyframe at or before `offset`.

    Stream copy can only start on a keyframe. Looks back 30 s first (a seek: cheap), then,
    for a camera with longer GOPs, reads the file from its start.
    """
    for lookback in (30, None):
        argv = keyframes_argv(path, offset, lookback)
        found = _last_keyframe(argv, offset, timeout_seconds)
        if found is not None:
            return found
    raise FFmpegError(f"no keyframe before {offset:.3f} s in {Path(path).name}")


def packets_argv(path: str | Path) -> list[str]:
    """Every video packet's time and duration, edit lists ignored: what the file really holds."""
    return [
        settings.FFPROBE,
        "-v",
        "error",
        *FILE_PROTOCOLS,
        "-ignore_editlist",
        "1",
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=pts_time,duration_time",
        "-of",
        "csv=p=0",
        str(path),
    ]


def held_interval(path: str | Path, timeout_seconds: float = 120) -> tuple[float, float]:
    """(first frame time, time after the last frame) of a file's video, edit lists ignored."""
    argv = packets_argv(path)
    proc = run_tool(argv, timeout_seconds)
    check_exit(argv, proc)
    rows = []
    for line in proc.stdout.split():
        pts, _, dur = line.partition(",")
        try:
            rows.append((float(pts), float(dur or 0)))
        except ValueError:
            continue
    if not rows:
        raise FFmpegError(redact_text(proc.stderr.strip()[-300:]) or "no video packets")
    rows.sort()
    return rows[0][0], rows[-1][0] + rows[-1][1]
