"""Small builders for tests: real rows, real media files made by real FFmpeg."""

import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.utils import timezone

from cameras.models import Camera
from crimebox.ffprobe import MediaInfo
from crimebox.hashing import sha256_file
from recordings.index import Measured, index_segment, measure, seal, segment_dir


def make_camera(name="Cam 1", **fields) -> Camera:
    fields.setdefault("source", Camera.Source.RTSP)
    fields.setdefault("main_stream_uri", "rtsp://127.0.0.1:8554/test")
    return Camera.objects.create(name=name, **fields)


# The title FFmpeg writes into a cached encoding, replaced by each copy's own (same length, so
# every box and offset in the file stays valid).
TITLE_WIDTH = 64
PLACEHOLDER = b"crimebox-test-media-title".ljust(TITLE_WIDTH, b"~")
_encoded: dict[tuple[float, int, str, int], bytes] = {}


def make_media(
    path: Path, seconds: float = 4, *, fps: int = 25, size: str = "320x240", gop: int | None = None
) -> Path:
    """A fragmented-MP4 H.264 file like the recorder writes, from FFmpeg's test source.

    Each kind of file is encoded once per test session (encoding was most of the suite's time);
    every copy gets its own name as title, so no two files have the same bytes or SHA-256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = (seconds, fps, size, gop or fps)
    if key not in _encoded:
        _encoded[key] = _encode(seconds, fps, size, gop or fps)
    title = path.name.encode()[:TITLE_WIDTH].ljust(TITLE_WIDTH, b" ")
    path.write_bytes(_encoded[key].replace(PLACEHOLDER, title))
    return path


def _encode(seconds: float, fps: int, size: str, gop: int) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "media.mp4"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={size}:rate={fps}:duration={seconds}",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                str(gop),
                "-pix_fmt",
                "yuv420p",
                "-metadata",
                f"title={PLACEHOLDER.decode()}",
                "-movflags",
                "+frag_keyframe+empty_moov+default_base_moof",
                str(out),
            ],
            check=True,
        )
        media = out.read_bytes()
    assert media.count(PLACEHOLDER) == 1, "the title must be replaceable in place"
    return media


def make_segment(
    camera: Camera, start: datetime | None = None, seconds: float = 4, gop: int | None = None, **kw
):
    """A real file in the camera's folder, indexed and chained like a recorded one."""
    start = start or datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"
    make_media(path, seconds, gop=gop)
    if "measured" not in kw:
        kw["measured"] = _measure(path, (seconds, gop))
    return index_segment(camera, path, start=start, **kw)


_probed: dict[tuple[float, int | None], MediaInfo] = {}


def _measure(path: Path, key: tuple[float, int | None]) -> Measured:
    """measure(), with ffprobe run once per kind of media: copies of one encoding differ only
    in their title. Each file is still sealed and hashed itself."""
    if key not in _probed:
        measured = measure(path)
        _probed[key] = measured.info
        return measured
    seal(path)
    return Measured(_probed[key], sha256_file(path), path.stat().st_size, timezone.now())


def make_segments(camera: Camera, start: datetime, count: int, seconds: float = 4):
    return [
        make_segment(camera, start + timedelta(seconds=i * seconds), seconds) for i in range(count)
    ]


def close_viewings() -> int:
    """Write the entry of every viewing in progress, as the every-minute task does once they
    have been idle for audit.viewings.IDLE."""
    from django.utils import timezone

    from audit import viewings

    return viewings.close_idle(now=timezone.now() + viewings.IDLE + timedelta(seconds=1))
