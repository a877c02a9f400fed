"""A still per camera for the grid: the camera's ONVIF snapshot when it has one, else a frame
of the live stream when it runs, else the newest recorded frame (the last complete fragment of
the newest segment, the one being recorded included), whose time the grid shows.

Cached in the RAM directory a few seconds, so a full grid costs one fetch per camera. A still
costs web threads, and a hostile snapshot server could hold them all, so:
- one fetch per camera at a time for every viewer (an flock per camera: single flight; the
  others wait for it and read its result, a failure included);
- at most MAX_WAITING requests across every web process fetch or wait (flock slots); past that
  StillBusy (the view answers 503 at once), so the admin and /health always find a thread;
- the snapshot only from the camera's own host (cameras/trust.py), no redirect to anywhere
  else, within SNAPSHOT_DEADLINE in total, at most SNAPSHOT_MAX_BYTES, and only an image
  (JPEG or PNG by its first bytes: an internal web page is never served as a picture).
"""

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import httpx

from cameras import trust
from cameras.audit import answer_refused
from cameras.models import Camera
from crimebox import ffrun, slots
from crimebox.atomic import write_atomic
from crimebox.display import box_time
from recordings import ffmpeg
from recordings.evidence import fmp4
from recordings.footage.thumbnails import thumbnail
from recordings.models import Segment

from . import state
from .status import parse_playlist

logger = logging.getLogger(__name__)

FRESH_SECONDS = 4.0
SNAPSHOT_DEADLINE = 3.0  # seconds for the whole snapshot: connect, redirects, every byte
SNAPSHOT_MAX_BYTES = 5_000_000
MAX_WAITING = 4  # still requests fetching or waiting at once, across every web process
MAX_REDIRECTS = 2
MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


class StillBusy(Exception):
    """Every still slot is taken: answer 503 rather than hold another web thread."""


class SnapshotError(Exception):
    """The camera's snapshot could not be used; the message is one line without secrets."""


def content_type(data: bytes) -> str:
    """The image type of a still (JPEG or PNG by its first bytes); "" for anything else."""
    return next((kind for magic, kind in MAGIC.items() if data.startswith(magic)), "")


def still(camera: Camera, now: float | None = None) -> bytes | None:
    """The camera's still, fresh within FRESH_SECONDS; StillBusy when every slot is taken."""
    cache = state.live_dir() / f"{camera.slug}.still.jpg"
    cached = _fresh(cache, now or time.time())
    if cached is not None:
        return cached or None
    with _slot():
        return _single_flight(camera, cache)


def _fresh(cache: Path, now: float) -> bytes | None:
    """The cached still (b"" for a recent "no picture"), or None when there is none fresh."""
    try:
        if now - cache.stat().st_mtime < FRESH_SECONDS:
            return cache.read_bytes()
    except FileNotFoundError:
        pass
    return None


@contextmanager
def _slot() -> Iterator[None]:
    folder = state.live_dir() / "still-slots"
    folder.mkdir(parents=True, exist_ok=True)
    fd = slots.take(folder, "slot", MAX_WAITING)
    if fd is None:
        raise StillBusy(f"{MAX_WAITING} still requests are already waiting for cameras")
    try:
        yield
    finally:
        os.close(fd)  # closing drops the lock (the kernel drops it if the process dies)


def _single_flight(camera: Camera, cache: Path) -> bytes | None:
    """Fetch under the camera's lock; whoever waited for it reads what the holder cached."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(cache.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o640)
    try:
        deadline = time.monotonic() + SNAPSHOT_DEADLINE + 12  # a fetch, then a frame (ffmpeg)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.05)
        cached = _fresh(cache, time.time())  # the holder we waited for got it
        if cached is not None:
            return cached or None
        data, source = _picture(camera)
        # What the cached still is, for the grid's words (still_source); written first, so
        # a still is never shown with an older one's time.
        write_atomic(cache.with_suffix(".source"), source)
        write_atomic(cache, data or b"")  # b"": "no picture", so waiters do not fetch again
        return data
    finally:
        os.close(fd)


def _picture(camera: Camera) -> tuple[bytes | None, str]:
    """(the still, what it is in words)."""
    data = snapshot(camera)
    if data:
        return data, "camera snapshot"
    data = live_frame(camera)
    if data:
        return data, "live frame"
    recorded = recorded_frame(camera)
    if recorded is None:
        return None, "no picture yet"
    return recorded[0], f"recorded {box_time(recorded[1], '%H:%M:%S')}"


def still_source(camera: Camera) -> str:
    """What the camera's cached still is ("recorded 16:43:07 UTC": the frame's time)."""
    try:
        return (state.live_dir() / f"{camera.slug}.still.source").read_text()
    except FileNotFoundError:
        pass
    if camera.snapshot_uri:
        return "camera snapshot"
    if (state.camera_state(camera.slug) or {}).get("state") == "playing":
        return "live frame"
    return "no picture yet"


def snapshot(camera: Camera) -> bytes | None:
    """The camera's snapshot, or None (logged; a refused one is also kept on the camera)."""
    uri = camera.snapshot_uri
    if not uri.lower().startswith(("http://", "https://")):
        return None
    try:
        if not trust.on_host(uri, camera.host):
            raise Refused(f"its snapshot is on another host ({trust.shown(uri)})")
        return fetch_snapshot(camera, uri)
    except Refused as e:
        text = (
            f"refused the camera's snapshot: {e}. Its credentials only go to {camera.host}, "
            "the address it was added with"
        )
        logger.warning("camera %s: %s", camera, text)
        if camera.note_refusal(text):
            answer_refused(camera, camera.refusal, via="still", username="system")
    except SnapshotError as e:
        logger.info("camera %s: snapshot failed: %s", camera, camera.redact(str(e)))
    return None


class Refused(SnapshotError):
    """The snapshot would take the camera's credentials to another host or port."""


def fetch_snapshot(camera: Camera, uri: str) -> bytes:
    """GET the snapshot within SNAPSHOT_DEADLINE (HTTP Basic or Digest, as the camera asks),
    following a redirect only to the same scheme, host and port."""
    deadline = time.monotonic() + SNAPSHOT_DEADLINE
    # Each socket operation waits at most a third of the deadline, so the total overshoots
    # by at most that much; trust_env: no proxy from the environment sees the credentials.
    timeout = httpx.Timeout(SNAPSHOT_DEADLINE / 3)
    with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
        auth: httpx.Auth | None = None
        for _ in range(MAX_REDIRECTS + 2):
            status, headers, body = _get(client, uri, auth, deadline)
            if status == 401 and auth is None and camera.username:
                challenge = headers.get("www-authenticate", "").lower()
                user, password = camera.username, camera.password
                digest = challenge.startswith("digest")
                auth = (
                    httpx.DigestAuth(user, password) if digest else httpx.BasicAuth(user, password)
                )
                continue
            if 300 <= status < 400 and "location" in headers:
                target = urljoin(uri, headers["location"])
                if trust.endpoint(target) != trust.endpoint(uri) or not _same_scheme(target, uri):
                    raise Refused(f"its snapshot redirected to {trust.shown(target)}")
                uri = target
                continue
            if status != 200:
                raise SnapshotError(f"HTTP {status}")
            if not content_type(body):
                raise SnapshotError(f"not a JPEG or PNG image ({len(body)} bytes)")
            return body
    raise SnapshotError("too many redirects or authentication rounds")


def _auth(camera: Camera, challenge: str) -> httpx.Auth:
    """What the camera asked for (its host checked before): Digest, else Basic."""
    if challenge.lower().startswith("digest"):
        return httpx.DigestAuth(camera.username, camera.password)
    return httpx.BasicAuth(camera.username, camera.password)


def _same_scheme(a: str, b: str) -> bool:
    return a.split(":", 1)[0].lower() == b.split(":", 1)[0].lower()


def _get(
    client: httpx.Client, uri: str, auth: httpx.Auth | None, deadline: float
) -> tuple[int, httpx.Headers, bytes]:
    """(status, headers, body) of one GET (auth rounds included), bounded by `deadline`."""
    body = bytearray()
    if time.monotonic() > deadline:
        raise SnapshotError(f"not sent within {SNAPSHOT_DEADLINE:g} s")
    try:
        with client.stream("GET", uri, auth=auth) as response:
            if response.status_code == 200:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > SNAPSHOT_MAX_BYTES:
                        raise SnapshotError(f"larger than {SNAPSHOT_MAX_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise SnapshotError(f"not sent within {SNAPSHOT_DEADLINE:g} s")
            return response.status_code, response.headers, bytes(body)
    except httpx.TimeoutException:
        raise SnapshotError(f"no answer within {SNAPSHOT_DEADLINE:g} s") from None
    except (httpx.HTTPError, ValueError) as e:
        raise SnapshotError(f"{type(e).__name__}: {e}") from None


def live_frame(camera: Camera) -> bytes | None:
    """Decode the first frame of the newest live segment (each starts on a keyframe)."""
    folder = state.stream_dir(camera.slug)
    try:
        segments = parse_playlist((folder / "index.m3u8").read_text())
        media = (folder / "init.mp4").read_bytes() + (folder / segments[-1][0]).read_bytes()
    except (OSError, IndexError):
        return None
    return jpeg_of(media)


def recorded_frame(camera: Camera) -> tuple[bytes, datetime] | None:
    """The newest recorded picture and its time: the keyframe starting the newest segment's
    last complete fragment (a GOP behind at most, the open segment included)."""
    newest = Segment.objects.filter(camera=camera).order_by("-start").first()
    if newest is None:
        return None
    try:
        media, seconds = fmp4.newest_keyframe(newest.abs_path)
    except (fmp4.Unsupported, OSError):
        media = b""  # not the recorder's fragmented MP4 (or gone): its first frame, if any
    data = jpeg_of(media) if media else None
    if data:
        return data, newest.start + timedelta(seconds=seconds)
    path = thumbnail(newest)
    return (path.read_bytes(), newest.start) if path is not None else None


def jpeg_of(media: bytes) -> bytes | None:
    try:
        return ffrun.run_bytes(ffmpeg.still_argv(), 10, stdin=media) or None
    except ffrun.FFmpegError:
        return None
