"""Camera changes into the audit trail: one entry shape for the admin, the commands and the
schedule. Evidence packages copy these entries, so a court sees one schema:

    change    "added" | "changed" | "re-probed" | "deleted" | "refused"
    via       "admin" | "cli" | "schedule"
    changed   {field: [old, new]} (credentials: ["***", "***"], only that they changed)
    changes   the same in words ("name 'A' -> 'B'; password changed")
    source, host, stream, model, main_profile: the camera as it is after the change
    refused   (change "refused" only) what the camera answered that the box refused: a stream,
              snapshot, service or redirect on another host or an unconfirmed port
"""

from django.http import HttpRequest

from audit.log import record
from audit.models import AuditEvent

from .models import Camera

CREDENTIALS = ("password", "username")


def describe_changes(changes: dict[str, list]) -> str:
    """{field: [old, new]} as "field 'old' -> 'new'; ..." for the history and audit trail.
    Credentials: only that they changed."""
    return "; ".join(
        f"{name} changed" if name in CREDENTIALS else f"{name} {_shown(old)} -> {_shown(new)}"
        for name, (old, new) in changes.items()
    )


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def camera_changed(
    camera: Camera,
    change: str,
    *,
    via: str,
    changed: dict[str, list] | None = None,
    summary: str = "",
    request: HttpRequest | None = None,
    username: str | None = None,
) -> AuditEvent:
    """Write one camera_change entry. `summary` defaults to the changes in words."""
    changed = {
        name: ["***", "***"] if name in CREDENTIALS else list(values)
        for name, values in (changed or {}).items()
    }
    return record(
        AuditEvent.Action.CAMERA_CHANGE,
        request=request,
        username=username,
        camera=camera,
        target=f"camera {camera.pk}",
        detail={
            "change": change,
            "via": via,
            "changed": changed,
            "changes": summary or describe_changes(changed),
            "source": camera.source,
            "host": camera.host,
            "stream": camera.main_stream_uri,
            "model": camera.model,
            "main_profile": camera.main_profile_token,
        },
    )


def answer_refused(
    camera: Camera | None,
    refused: str,
    *,
    via: str,
    host: str = "",
    request: HttpRequest | None = None,
    username: str | None = None,
) -> AuditEvent:
    """One camera_change entry, change "refused": the camera (or, while it is being added,
    the device at `host`) answered with somewhere its credentials may not go."""
    target = f"camera {camera.pk}" if camera is not None else f"ONVIF device {host}"
    shown = camera or Camera(host=host)
    return record(
        AuditEvent.Action.CAMERA_CHANGE,
        request=request,
        username=username,
        camera=camera,
        target=target,
        detail={
            "change": "refused",
            "via": via,
            "changed": {},
            "changes": "",
            "refused": refused,
            "source": shown.source,
            "host": shown.host,
            "stream": shown.main_stream_uri,
            "model": shown.model,
            "main_profile": shown.main_profile_token,
        },
    )


def stream_redirect_refused(camera: Camera, refusal: str, *, via: str) -> None:
    """The camera's RTSP server redirected FFmpeg elsewhere and the relay refused
    (crimebox/rtsp_guard.py): kept on the camera as its problem, audited once per change
    (a camera that redirects on every restart is one entry)."""
    text = (
        f"{refusal}. Its credentials only go to {camera.host or 'the host of its stream URL'}, "
        "the address it was added with"
    )
    if camera.note_refusal(text):
        answer_refused(camera, camera.refusal, via=via, username="system")
