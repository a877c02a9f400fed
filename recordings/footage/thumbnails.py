"""A small JPEG of a segment's first frame, made once and cached under DATA_DIR/thumbs; the
audit entry of every still served (thumbnails, camera and live stills)."""

import uuid
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest

from audit import log
from audit.models import AuditEvent
from cameras.models import Camera
from crimebox import ffrun

from .. import ffmpeg
from ..models import Segment

TIMEOUT_SECONDS = 30


def thumbnail_path(segment: Segment) -> Path:
    return Path(settings.DATA_DIR) / "thumbs" / segment.camera.slug / f"{segment.pk}.jpg"


def thumbnail(segment: Segment) -> Path | None:
    path = thumbnail_path(segment)
    if path.exists():
        return path
    if not segment.abs_path.is_file():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per request: two threads asking for the same thumbnail must not
    # write one file together; the rename makes whichever finishes the whole picture.
    partial = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp.jpg")
    try:
        try:
            ffrun.run_bytes(ffmpeg.thumbnail_argv(segment.abs_path, partial), TIMEOUT_SECONDS)
        except ffrun.FFmpegError:
            return None
        if not partial.exists():
            return None
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def audit_still(request: HttpRequest, camera: Camera, kind: str, **detail: object) -> None:
    """A still is footage: audited, one entry per user, camera and minute (a page of
    thumbnails is dozens of requests). `kind`: thumbnail, camera still, live still."""
    log.record_per_minute(
        AuditEvent.Action.STILL,
        request=request,
        camera=camera,
        target=f"camera {camera.pk} stills",
        detail={"still": kind, **detail},
    )
