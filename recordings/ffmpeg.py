"""Pure functions that build FFmpeg argv lists, and parse what FFmpeg writes.

Running FFmpeg and ffprobe is crimebox/ffrun.py's (timeouts, a missing binary, a failed
exit: one error type); what a file holds is crimebox/ffprobe.py's.
"""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from crimebox.ffprobe import FILE_PROTOCOLS, rtsp_source

# Fragmented MP4: a kill -9 or power cut leaves every fragment already written playable
# (measured: plain MP4 loses the whole open file, "moov atom not found"). flush_packets=1
# writes each fragment through at once: measured, a kill -9 then loses only the fragment in
# progress (< 1 GOP) instead of the last 256 KiB the segment muxer's buffer held.
FRAGMENTED_MP4 = "movflags=+frag_keyframe+empty_moov+default_base_moof:flush_packets=1"
TEST_PATTERN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def segment_output_args(out_template: str, segment_seconds: int) -> list[str]:
    """Segment muxer: clock-aligned cuts on keyframes, closed files reported on stdout as CSV,
    and FFmpeg's own progress (`frame=`, `out_time_us=`...) on stdout each second: the
    recorder's watchdog reads it, since a segment no longer than the camera's keyframe
    interval holds only its header until it closes (see parse_progress_line).

    Files are numbered (`%06d` in the template), never named from the clock: with -strftime
    a clock stepped back makes FFmpeg reuse the name of a closed, hashed segment and truncate
    it (measured: 10 of 10 segments of the minute before a 60 s step rewritten). The caller
    makes the rest of the name unique per run.
    """
    return [
        "-stats_period",
        "1",
        "-progress",
        "pipe:1",  # one write() per report, as the segment list's lines: never interleaved
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


def rtsp_input(url: str, timeout_seconds: int) -> list[str]:
    """FFmpeg's start and its RTSP input, as the recorder and live view open a camera. Over
    TCP, with a socket I/O timeout (a silent camera makes FFmpeg exit instead of hanging);
    credentials in `url` are read from a private file, never put in argv (rtsp_source).

    StreamURLError for anything but a well-formed rtsp:// or rtsps:// URL."""
    options, source = rtsp_source(url, timeout_seconds)
    return [
        settings.FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *options,
        "-fflags",
        "+genpts",
        "-i",
        source,
    ]


def record_argv(
    url: str, out_template: str, *, segment_seconds: int, timeout_seconds: int, audio: bool = False
) -> list[str]:
    """Stream-copy one RTSP camera into segments. Never re-encodes."""
    maps = ["-map", "0:v:0"] + (["-map", "0:a:0?"] if audio else [])
    return [
        *rtsp_input(url, timeout_seconds),
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


# FFmpeg's -progress keys that say how far it got; when the input hangs FFmpeg blocks on it
# and prints nothing (measured: a SIGSTOPped camera, 9 s without a report).
PROGRESS_KEYS = ("frame", "out_time_us")


def parse_progress_line(line: str) -> tuple[str, str] | None:
    """One `-progress` line that tells how far FFmpeg got: (key, value), else None."""
    key, sep, value = line.strip().partition("=")
    return (key, value) if sep and key in PROGRESS_KEYS else None


# Exports and thumbnails read only local files: FFmpeg may open nothing but files (a concat
# listing names files; a crafted one must not reach the network).
FILE_ONLY = FILE_PROTOCOLS
F_SETPIPE_SZ = 1031
CLIP_MP4 = "+frag_keyframe+empty_moov+default_base_moof"


def version_argv() -> list[str]:
    return [settings.FFMPEG, "-hide_banner", "-version"]


def still_argv() -> list[str]:
    """One frame of the media on stdin as a 320 px wide JPEG on stdout (stills)."""
    return [
        settings.FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        "pipe:0",
        "-frames:v",
        "1",
        "-vf",
        "scale=320:-2",
        "-q:v",
        "6",
        "-f",
        "image2",
        "-c:v",
        "mjpeg",
        "pipe:1",
    ]


def concat_listing(paths: list[Path], inpoint: float) -> str:
    """A concat listing of `paths` starting at `inpoint` s of the first (a keyframe time).

    The concat demuxer seeks the first file to the keyframe at or before its inpoint; half a
    millisecond of slack so rounding of the printed keyframe time never lands before it.
    `-ss` before the concat input does not do this: it did not seek in our fragmented-MP4
    segments, copied everything from the file's start and hid it behind an MP4 edit list.
    """
    lines = ["ffconcat version 1.0"]
    for i, path in enumerate(paths):
        lines.append(f"file '{path}'")
        if i == 0 and inpoint > 0:
            lines.append(f"inpoint {inpoint + 0.0005:.6f}")
    return "\n".join(lines) + "\n"


def clip_argv(listing: Path, duration: float) -> list[str]:
    """Stream-copy `duration` s of a concat listing to stdout as fragmented MP4.

    Fragmented MP4 has its moov first by construction, so it streams into the package in one
    pass (no faststart rewrite) and plays like the recorded segments.
    """
    return [
        settings.FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *FILE_ONLY,
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(listing),
        "-t",
        f"{duration:.6f}",
        "-map",
        "0:v",
        "-map",
        "0:a?",
        "-c",
        "copy",
        "-f",
        "mp4",
        "-movflags",
        CLIP_MP4,
        "pipe:1",
    ]


def clip_timeout(source_bytes: int) -> float:
    """Stream copy is bound by the disk: allow 2 MB/s (an SD card) and a minute more."""
    return 60 + source_bytes / 2e6


def thumbnail_argv(source: Path, out: Path) -> list[str]:
    """The first frame of a segment as a 160 px wide JPEG."""
    return [
        settings.FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *FILE_ONLY,
        "-y",
        "-i",
        str(source),
        "-frames:v",
        "1",
        "-vf",
        "scale=160:-2",
        "-q:v",
        "6",
        str(out),
    ]


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
        # Measured (FFmpeg 5.1, 1 s keyframes): with hls_time alone the first segment closes
        # only at the second keyframe after the first, 2.2 s after start; cut at the first
        # keyframe past 0.5 s, the first playlist is there 0.9 s sooner. Later segments: 1 s.
        "-hls_init_time",
        "0.5",
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
        *rtsp_input(url, timeout_seconds),
        "-map",
        "0:v:0",
        "-c",
        "copy",
        *live_hls_args(out_dir),
    ]


def test_pattern_live_argv(out_dir: Path, *, size: str = "640x360", fps: int = 10) -> list[str]:
    """Live view of the built-in test camera: like its recording, the one case that encodes."""
    return [*test_pattern_source(size, fps), *live_hls_args(out_dir)]
