"""Django-Q tasks of the cameras app and the schedules that call them."""

import logging

from django_q.models import Schedule

from crimebox import schedules

from . import clock
from .audit import camera_changed
from .models import Camera
from .services import CameraError, reprobe

logger = logging.getLogger(__name__)

SCHEDULES: schedules.Schedules = {
    # Camera provenance over time: firmware updates and swapped cameras reach the audit trail.
    "re-probe cameras": ("cameras.tasks.reprobe_task", Schedule.HOURLY, None),
    # Camera clocks drift; evidence states each one's offset before and after a clip, so the
    # readings must be close to any window (re-probes measure too).
    "measure camera clocks": ("cameras.tasks.measure_clocks_task", Schedule.MINUTES, 15),
    # Expired admin sessions hold, between the two add-camera steps, a camera's credentials.
    "clear expired sessions": ("cameras.tasks.clear_sessions_task", Schedule.DAILY, None),
}


def reprobe_task() -> str:
    """Re-probe every enabled ONVIF camera. What changed (a firmware update, another serial
    number: a swapped camera) goes to the audit trail, so a camera's provenance at any time can
    be told. A failure is only logged: the camera's status and error belong to the recorder."""
    probed, changed, failed = 0, 0, 0
    for camera in Camera.objects.enabled().filter(source=Camera.Source.ONVIF):
        try:
            changes = reprobe(camera, note_error=False, via="schedule", username="system")
        except CameraError as e:
            failed += 1
            logger.warning(
                "camera %s: scheduled re-probe failed: %s", camera, camera.redact(str(e))
            )
            continue
        probed += 1
        if changes:
            changed += 1
            logger.warning("camera %s changed: %s", camera, ", ".join(sorted(changes)))
            camera_changed(camera, "re-probed", via="schedule", changed=changes, username="system")
    return f"{probed} probed, {changed} changed, {failed} failed"


def measure_clocks_task() -> str:
    """Measure every enabled ONVIF camera's clock (and set those kept in sync)."""
    measured, failed = 0, 0
    for camera in Camera.objects.enabled().filter(source=Camera.Source.ONVIF):
        if clock.measure_quietly(camera) is None:
            failed += 1
        else:
            measured += 1
    return f"{measured} clocks measured, {failed} not read"


def clear_sessions_task() -> str:
    from django.core.management import call_command

    call_command("clearsessions")
    return "expired sessions cleared"


def ensure_schedules() -> list[str]:
    """Create or update the cameras' schedules idempotently; returns their names."""
    return schedules.ensure_schedules(SCHEDULES)
