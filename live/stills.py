"""A still per camera for the grid: the camera's ONVIF snapshot when it has one, else a frame
of the live stream when it runs, else the first frame of the newest recorded segment.
Cached in the RAM directory a few seconds, so a full grid costs one fetch per camera."""

import logging
import subprocess
import time
import urllib.error
import urllib.request
import uuid

from django.conf import settings

from cameras.models import Camera
from recordings.footage.thumbnails import thumbnail
from recordings.models import Segment

from . import state
from .status import parse_playlist

logger = logging.getLogger(__name__)

FRESH_SECONDS = 4.0
SNAPSHOT_TIMEOUT = 3.0  # a sync web worker waits at most this long for a camera


def still(camera: Camera, now: float | None = None) -> bytes | None:
    now = now or time.time()
    cache = state.live_dir() / f"{camera.slug}.still.jpg"
    try:
        if now - cache.stat().st_mtime < FRESH_SECONDS:
            return cache.read_bytes()
    except FileNotFoundError:
        pass
    data = snapshot(camera) or live_frame(camera) or recorded_frame(camera)
    if data:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f".{cache.name}.{uuid.uuid4().hex}.tmp")  # one per request
        partial.write_bytes(data)
        partial.replace(cache)
    return data


def still_source(camera: Camera) -> str:
    if camera.snapshot_uri:
        return "camera snapshot"
    if (state.camera_state(camera.slug) or {}).get("state") == "playing":
        return "live frame"
    newest = Segment.objects.filter(camera=camera).order_by("-start").first()
    return f"recorded {newest.start:%H:%M} UTC" if newest else "no picture yet"


def snapshot(camera: Camera) -> bytes | None:
    if not camera.snapshot_uri.startswith(("http://", "https://")):
        return None
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, camera.snapshot_uri, camera.username, camera.password)
    opener = urllib.request.build_opener(
        urllib.request.HTTPBasicAuthHandler(passwords),
        urllib.request.HTTPDigestAuthHandler(passwords),
    )
    try:
        with opener.open(camera.snapshot_uri, timeout=SNAPSHOT_TIMEOUT) as response:
            return response.read(5_000_000) or None
    except (OSError, urllib.error.URLError, ValueError) as e:
        logger.info("camera %s: snapshot failed: %s", camera, camera.redact(str(e)))
        return None


def live_frame(camera: Camera) -> bytes | None:
    """Decode the first frame of the newest live segment (each starts on a keyframe)."""
    folder = state.stream_dir(camera.slug)
    try:
        segments = parse_playlist((folder / "index.m3u8").read_text())
        media = (folder / "init.mp4").read_bytes() + (folder / segments[-1][0]).read_bytes()
    except (OSError, IndexError):
        return None
    return jpeg_of(media)


def recorded_frame(camera: Camera) -> bytes | None:
    newest = Segment.objects.filter(camera=camera).order_by("-start").first()
    path = thumbnail(newest) if newest is not None else None
    return path.read_bytes() if path is not None else None


def jpeg_of(media: bytes) -> bytes | None:
    argv = [settings.FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", "pipe:0",
            "-frames:v", "1", "-vf", "scale=320:-2", "-q:v", "6", "-f", "image2",
            "-c:v", "mjpeg", "pipe:1"]  # fmt: skip
    try:
        proc = subprocess.run(argv, input=media, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 and proc.stdout else None
