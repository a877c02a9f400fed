"""A small JPEG of a segment's first frame, made once and cached under DATA_DIR/thumbs."""

import subprocess
from pathlib import Path

from django.conf import settings

from ..models import Segment


def thumbnail_path(segment: Segment) -> Path:
    return Path(settings.DATA_DIR) / "thumbs" / segment.camera.slug / f"{segment.pk}.jpg"


def thumbnail(segment: Segment) -> Path | None:
    path = thumbnail_path(segment)
    if path.exists():
        return path
    if not segment.abs_path.is_file():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp.jpg")
    proc = subprocess.run(
        [
            settings.FFMPEG,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(segment.abs_path),
            "-frames:v",
            "1",
            "-vf",
            "scale=160:-2",
            "-q:v",
            "6",
            str(partial),
        ],
        capture_output=True,
        timeout=30,
    )
    if proc.returncode != 0 or not partial.exists():
        return None
    partial.replace(path)
    return path
