"""Small builders for tests: real rows, real media files made by real FFmpeg."""

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cameras.models import Camera
from recordings.index import index_segment, segment_dir


def make_camera(name="Cam 1", **fields) -> Camera:
    fields.setdefault("source", Camera.Source.RTSP)
    fields.setdefault("main_stream_uri", "rtsp://127.0.0.1:8554/test")
    return Camera.objects.create(name=name, **fields)


def make_media(
    path: Path, seconds: float = 4, *, fps: int = 25, size: str = "320x240", gop: int | None = None
) -> Path:
    """A fragmented-MP4 H.264 file like the recorder writes, from FFmpeg's test source."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
            str(gop or fps),
            "-pix_fmt",
            "yuv420p",
            "-metadata",
            f"title={path.name}",  # unique bytes per file
            "-movflags",
            "+frag_keyframe+empty_moov+default_base_moof",
            str(path),
        ],
        check=True,
    )
    return path


def make_segment(
    camera: Camera, start: datetime | None = None, seconds: float = 4, gop: int | None = None, **kw
):
    """A real file in the camera's folder, indexed and chained like a recorded one."""
    start = start or datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"
    make_media(path, seconds, gop=gop)
    return index_segment(camera, path, start=start, **kw)


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
