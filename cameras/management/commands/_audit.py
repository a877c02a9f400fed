"""Audit entries for camera changes made from the command line (never with secrets)."""

from audit.log import record
from audit.models import AuditEvent
from cameras.models import Camera


def audit_camera(camera: Camera, what: str, **detail) -> None:
    record(
        AuditEvent.Action.CAMERA_CHANGE,
        camera=camera,
        target=f"camera {camera.pk}",
        username="cli",
        detail={
            "change": what,
            "source": camera.source,
            "host": camera.host,
            "stream": camera.main_stream_uri,
            **detail,
        },
    )
