"""The files the web and the live supervisor share in the RAM directory (never the SD card).

    LIVE_DIR/supervisor.json   the supervisor's heartbeat (pid, time)
    LIVE_DIR/camNNNN.want      touched by the web on each playlist or status request (demand)
    LIVE_DIR/camNNNN.want.uN   the same, per user id N (the cap is shared fairly between users)
    LIVE_DIR/camNNNN.json      the camera's live state, written by the supervisor
    LIVE_DIR/camNNNN/          FFmpeg's HLS output: index.m3u8, init.mp4, seg000123.m4s

Files, not rows: a playlist request every second per viewer costs a utime, not a database
write, and the supervisor reads the demand with one stat per camera.
"""

import json
import logging
import os
import time
from pathlib import Path

from django.conf import settings

from crimebox import pi
from crimebox.atomic import write_atomic

RUN_DIR = Path("/run/crimebox/live")
SHM_DIR = Path("/dev/shm/crimebox-live")
HEARTBEAT_MAX_AGE = 10.0  # older than this: the live service is not running

logger = logging.getLogger(__name__)


def live_dir() -> Path:
    """CRIMEBOX_LIVE_DIR, else /run/crimebox/live when /run is RAM and the directory exists
    or can be made (systemd's RuntimeDirectory makes it for the live unit), else
    /dev/shm/crimebox-live. Resolved on each use so the web follows the supervisor whichever
    started first."""
    if settings.LIVE_DIR:
        return Path(settings.LIVE_DIR)
    if not in_ram(RUN_DIR.parent.parent):
        return SHM_DIR  # a container's /run can be on disk
    if RUN_DIR.is_dir() and os.access(RUN_DIR, os.W_OK):
        return RUN_DIR
    try:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        return RUN_DIR
    except OSError:
        return SHM_DIR


def filesystem_type(path: Path, mounts: str | None = None) -> str:
    """The type of the filesystem holding `path` (longest mount point of /proc/mounts)."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return ""
    found = pi.mount_of(Path(os.path.abspath(path)), mounts)
    return found[1] if found else ""


def in_ram(path: Path) -> bool:
    return filesystem_type(path) in ("tmpfs", "ramfs")


def stream_dir(slug: str) -> Path:
    return live_dir() / slug


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data))


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def want(slug: str, now: float | None = None, user: int | None = None) -> None:
    """Say someone is watching (or about to): the supervisor starts or keeps the stream.
    `user` (a user id) is who: the supervisor shares its cap fairly between people.
    Never raises: an unwritable live directory shows as "live service not running"."""
    now = now or time.time()
    _touch(live_dir() / f"{slug}.want", now)
    if user is not None:
        _touch(live_dir() / f"{slug}.want.u{user}", now)


def _touch(path: Path, now: float) -> None:
    try:
        try:
            os.utime(path, (now, now))
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            os.utime(path, (now, now))
    except OSError as e:
        logger.warning("cannot signal live demand in %s: %s", path.parent, e)


def wanters(slug: str, now: float, idle: float) -> set[int]:
    """The users who asked for the camera within `idle` seconds; older demand files go."""
    users = set()
    for path in live_dir().glob(f"{slug}.want.u*"):
        try:
            age = now - path.stat().st_mtime
            user = int(path.name.rsplit(".u", 1)[1])
        except (OSError, ValueError):
            continue
        if age <= idle:
            users.add(user)
        else:
            path.unlink(missing_ok=True)
    return users


def wanted_at(slug: str) -> float | None:
    try:
        return (live_dir() / f"{slug}.want").stat().st_mtime
    except FileNotFoundError:
        return None


def camera_state(slug: str) -> dict | None:
    return read_json(live_dir() / f"{slug}.json")


def set_camera_state(slug: str, state: dict) -> None:
    write_json(live_dir() / f"{slug}.json", state)


def beat(now: float) -> None:
    write_json(live_dir() / "supervisor.json", {"pid": os.getpid(), "at": now})


def supervisor_running(now: float | None = None) -> bool:
    data = read_json(live_dir() / "supervisor.json")
    now = now or time.time()
    return data is not None and now - float(data.get("at", 0)) <= HEARTBEAT_MAX_AGE


def stop_beating() -> None:
    (live_dir() / "supervisor.json").unlink(missing_ok=True)
