"""Steering cameras (pan, tilt, zoom, presets): one controller at a time, rate-limited, and
every move on the record. A moved camera records another scene, so each PTZ command that
changes where the camera looks is an audit entry (`ptz`, target "camera <id>": evidence
packages list them, the footage timeline marks them).

A camera must never keep turning: a move lasts while the browser keeps sending keep-alives;
the process that started it stops the camera (deadman) when none arrived for MOVE_SECONDS,
whichever web process received them (the deadline is on the camera's row).
"""

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.log import record
from audit.models import AuditEvent

from .models import Camera
from .onvif import ONVIFError, ptz_request

logger = logging.getLogger(__name__)

HOLD_SECONDS = 60  # control lapses after this long without a command
MOVE_SECONDS = 1.5  # a move without a keep-alive for this long is stopped
MIN_INTERVAL = 0.1  # seconds between two commands to one camera
SPEED = 0.5
DIRECTIONS = {
    "left": (-SPEED, 0.0, 0.0),
    "right": (SPEED, 0.0, 0.0),
    "up": (0.0, SPEED, 0.0),
    "down": (0.0, -SPEED, 0.0),
    "in": (0.0, 0.0, SPEED),
    "out": (0.0, 0.0, -SPEED),
}


class PTZError(Exception):
    """A PTZ command refused or failed; `status` is the HTTP answer, the message is safe."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def holder_name(camera: Camera, now: datetime | None = None) -> str:
    """Who steers the camera now ("" when nobody does or their control lapsed)."""
    now = now or timezone.now()
    if camera.ptz_holder_id is None or not camera.ptz_held_until or camera.ptz_held_until < now:
        return ""
    return camera.ptz_holder.get_username() if camera.ptz_holder else ""


def claim(camera: Camera, user: Any, now: datetime, limit: bool = True) -> bool:
    """Take or keep control (True when a new session starts); PTZError 409 when another
    person holds it, 429 when commands come too fast (`limit`: a stop is never refused)."""
    free = Q(ptz_holder=None) | Q(ptz_held_until__lt=now) | Q(ptz_held_until=None)
    calm = Q(ptz_last_command_at=None) | Q(
        ptz_last_command_at__lte=now - timedelta(seconds=MIN_INTERVAL if limit else 0)
    )
    with transaction.atomic():
        row = Camera.objects.filter(pk=camera.pk).select_related("ptz_holder").get()
        new_session = not (row.ptz_holder_id == user.pk and holder_name(row, now))
        changed = (
            Camera.objects.filter(pk=camera.pk)
            .filter(free | Q(ptz_holder=user))
            .filter(calm)
            .update(
                ptz_holder=user,
                ptz_held_until=now + timedelta(seconds=HOLD_SECONDS),
                ptz_last_command_at=now,
            )
        )
    if changed == 1:
        return new_session
    if holder_name(row, now) and row.ptz_holder_id != user.pk:
        raise PTZError(f"{holder_name(row, now)} is steering this camera", 409)
    raise PTZError("too many commands: wait a moment", 429)


def command(camera: Camera, user: Any, action: str, value: str = "", request: Any = None) -> dict:
    """One command from the live player: move <direction>, keep, stop, home, preset <token>,
    save <name>, release. Returns the state the player shows."""
    if not camera.can_steer():
        raise PTZError(f"{camera.name} cannot be steered (no PTZ in its ONVIF profile)", 404)
    if action == "move" and value not in DIRECTIONS:
        raise PTZError(f"unknown direction {value[:20]!r}")
    if action not in ("move", "keep", "stop", "home", "preset", "save", "release"):
        raise PTZError(f"unknown PTZ command {action[:20]!r}")
    now = timezone.now()
    new_session = claim(camera, user, now, limit=action not in ("stop", "release"))
    camera.refresh_from_db()
    before = camera.ptz_position or "where it was left"
    if action == "keep":
        if camera.ptz_move_until is not None:
            _set(camera, ptz_move_until=now + timedelta(seconds=MOVE_SECONDS))
        return state(camera)
    to = _perform(camera, action, value, now)
    if to is not None:
        _set(camera, ptz_position=to[:200])
        detail = {"command": action, "from": before, "to": to, "new_session": new_session}
        record(
            AuditEvent.Action.PTZ,
            request=request,
            user=user,
            camera=camera,
            target=f"camera {camera.pk}",
            detail=detail,
        )
    return state(camera)


def _perform(camera: Camera, action: str, value: str, now: datetime) -> str | None:
    """Send the command; the camera's new position in words, or None when it did not move."""
    token = camera.main_profile_token
    if action == "move":
        pan, tilt, zoom = DIRECTIONS[value]
        velocity = {"PanTilt": {"x": pan, "y": tilt}} if value not in ("in", "out") else {}
        if zoom:
            velocity["Zoom"] = {"x": zoom}
        _send(camera, "ContinuousMove", ProfileToken=token, Velocity=velocity)
        _set(camera, ptz_move_until=now + timedelta(seconds=MOVE_SECONDS))
        arm_deadman(camera.pk)
        return f"moved by hand ({value})"
    if action in ("stop", "release"):
        stop(camera)
        if action == "release":
            _set(camera, ptz_holder=None, ptz_held_until=None)
            return camera.ptz_position or "where it was left"
        return None
    if action == "home":
        _send(camera, "GotoHomePosition", ProfileToken=token)
        return "home position"
    presets = {p["token"]: p["name"] for p in presets_of(camera)}
    if action == "preset":
        if value not in presets:
            raise PTZError(f"the camera has no preset {value[:40]!r}", 404)
        _send(camera, "GotoPreset", ProfileToken=token, PresetToken=value)
        return f"preset '{presets[value] or value}'"
    name = value.strip()[:60]
    if not name:
        raise PTZError("give the preset a name")
    _send(camera, "SetPreset", ProfileToken=token, PresetName=name)
    return f"saved as preset '{name}'"


def stop(camera: Camera) -> None:
    """Stop pan, tilt and zoom. The move counts as over (for the page and the deadman) once
    the camera has answered the Stop, or failed to: a camera that never answers is not
    asked again and again."""
    try:
        _send(camera, "Stop", ProfileToken=camera.main_profile_token, PanTilt=True, Zoom=True)
    finally:
        _set(camera, ptz_move_until=None)


def presets_of(camera: Camera) -> list[dict]:
    return _send(camera, "GetPresets", ProfileToken=camera.main_profile_token) or []


def state(camera: Camera) -> dict:
    return {"holder": holder_name(camera), "position": camera.ptz_position}


def _send(camera: Camera, method: str, **params: Any) -> Any:
    try:
        return ptz_request(
            camera.host, camera.onvif_port, camera.username, camera.password, method, params
        )
    except ONVIFError as e:
        raise PTZError(camera.redact(str(e)), 502) from None


def _set(camera: Camera, **fields: Any) -> None:
    Camera.objects.filter(pk=camera.pk).update(**fields)
    for name, value in fields.items():
        setattr(camera, name, value)


_armed: set[int] = set()
_armed_lock = threading.Lock()


def arm_deadman(camera_id: int) -> None:
    """Watch the camera's move deadline in this process until the move ends."""
    with _armed_lock:
        if camera_id in _armed:
            return
        _armed.add(camera_id)
    threading.Thread(target=_deadman, args=(camera_id,), daemon=True).start()


def _deadman(camera_id: int) -> None:
    try:
        _watch(camera_id)
    except Exception:  # a daemon thread: log, never die silently with the camera turning
        logger.exception("camera %s: the PTZ deadman failed", camera_id)
    finally:
        with _armed_lock:
            _armed.discard(camera_id)
        connection.close()


def _watch(camera_id: int) -> None:
    while True:
        time.sleep(0.2)
        camera = Camera.objects.filter(pk=camera_id).first()
        if camera is None or camera.ptz_move_until is None:
            return
        if camera.ptz_move_until < timezone.now():
            logger.warning("camera %s: no PTZ keep-alive, stopping it", camera)
            try:
                stop(camera)
            except PTZError as e:
                logger.warning("camera %s: PTZ stop failed: %s", camera, e)
            return


def manifest_moves(cameras: list[Camera], start: datetime, end: datetime) -> list[dict]:
    """The PTZ entries a package's reader needs: per camera, the last move before the window
    (where the camera was pointing) and every move inside it."""
    events = AuditEvent.objects.filter(action=AuditEvent.Action.PTZ)
    out = []
    for camera in cameras:
        mine = events.filter(camera_id=camera.pk)
        last = mine.filter(at__lt=start).order_by("-sequence")[:1]
        inside = mine.filter(at__gte=start, at__lte=end).order_by("sequence")
        out += [_move(e, camera) for e in [*last, *inside]]
    return out


def _move(event: AuditEvent, camera: Camera) -> dict:
    detail = event.detail or {}
    return {
        "at": event.at.isoformat(timespec="milliseconds"),
        "camera": camera.name,
        "by": event.username,
        "command": detail.get("command"),
        "from": detail.get("from"),
        "to": detail.get("to"),
        "audit_sequence": event.sequence,
        "statement": f"{camera.name} was moved at {event.at:%Y-%m-%d %H:%M:%S} UTC by "
        f"{event.username or 'the system'}: from {detail.get('from')} to {detail.get('to')}.",
    }
