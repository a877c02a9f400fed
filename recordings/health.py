"""The box's health in one dict: for the admin's status panel, /health and (later) the RTCC."""

import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.dispatch import Signal
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django_q.models import Schedule

from audit import roles
from audit.models import AuditCheck
from cameras import clock as camera_clock
from cameras.models import Camera
from crimebox.clock import clock_synchronized

from . import heartbeat
from .evidence.signing import ensure_signing_key
from .models import Gap, IntegrityCheck, PrefixCheck, Segment
from .retention import free_floor, storage_alarm

if TYPE_CHECKING:
    from shutil import _ntuple_diskusage  # what shutil.disk_usage returns


# Upper layers add their part of the health (replication: sync/status.py): each receiver
# returns {"name": ..., "alarms": [...], "warnings": [...], "data": {...}}.
health_parts = Signal()


def health_status(
    now: datetime | None = None, disk_usage: "Callable[[Path], _ntuple_diskusage] | None" = None
) -> dict[str, Any]:
    now = now or timezone.now()
    usage = (disk_usage or shutil.disk_usage)(settings.RECORDINGS_DIR)
    check = IntegrityCheck.objects.exclude(finished_at=None).first()
    alarms, warnings = box_problems(check, disk_usage)
    all_cameras = list(Camera.objects.all())
    beat = heartbeat.last_beat()
    recorder_up = beat is not None and (now - beat).total_seconds() <= heartbeat.MAX_AGE
    if any(c.is_enabled for c in all_cameras) and not recorder_up:
        since = f" (last seen {beat:%Y-%m-%d %H:%M:%S} UTC)" if beat else ""
        alarms.append(
            f"The recorder is not running{since}: no camera is being recorded. "
            "Check `systemctl status crimebox-recorder`."
        )
    cameras = []
    for camera in all_cameras:
        warnings += camera_warnings(camera, now, recorder_up)
        cameras.append(
            {
                "name": camera.name,
                "enabled": camera.is_enabled,
                "status": camera.status,
                "last_segment_at": camera.last_segment_at,
                "last_error": camera.last_error,
                "open_gap": Gap.objects.filter(camera=camera).open().exists(),
                **camera_clock.health_entry(camera),
            }
        )
    warnings += camera_clock.warnings()
    parts = {}
    for _receiver, answer in health_parts.send(sender=None, now=now):
        part = cast(dict[str, Any], answer)  # each receiver answers a dict (health_parts)
        alarms += part["alarms"]
        warnings += part["warnings"]
        parts[part["name"]] = part["data"]
    status = "critical" if alarms else "warning" if warnings else "ok"
    return {
        "status": status,
        "box_id": settings.BOX_ID,
        "time": now,
        "alarms": alarms,
        "recorder_heartbeat": beat,
        "warnings": warnings,
        "cameras": cameras,
        "box_clock": camera_clock.box_clock(),
        "disk": {"total": usage.total, "free": usage.free, "floor": free_floor(usage.total)},
        "last_integrity_check": integrity_summary(check),
        "signing_key_fingerprint": ensure_signing_key().fingerprint,
        **parts,
    }


def integrity_summary(check: IntegrityCheck | None) -> dict | None:
    """The newest full check, with what closed since it and when the next one runs: a check
    that ran before any footage existed must not read as "OK, 0 segments" all day."""
    if check is None:
        return None
    schedule = Schedule.objects.filter(name="verify segments").first()
    return {
        "at": check.started_at,
        "ok": check.ok,
        "checked": check.checked,
        "problems": len(check.problems),
        "closed_since": Segment.objects.filter(end__gt=check.started_at).exclude(sha256="").count(),
        "next_at": schedule.next_run if schedule else None,
    }


def box_problems(
    check: IntegrityCheck | None,
    disk_usage: "Callable[[Path], _ntuple_diskusage] | None" = None,
) -> tuple[list[str], list[str]]:
    """(alarms, warnings) about storage, the stored checks, missing files and the clock."""
    alarms, warnings = [], []
    alarm = storage_alarm(disk_usage)
    if alarm:
        alarms.append(alarm)
    if check is not None and not check.ok:
        alarms.append(
            f"Integrity check of {check.started_at:%Y-%m-%d %H:%M} UTC found "
            f"{len(check.problems)} problem(s): see Integrity checks."
        )
    audit_check = AuditCheck.objects.exclude(finished_at=None).first()
    if audit_check is not None and not audit_check.ok:
        alarms.append(
            f"Audit trail check of {audit_check.started_at:%Y-%m-%d %H:%M} UTC found "
            f"the chain broken: {'; '.join(audit_check.problems[:3])}"
        )
    mismatched = PrefixCheck.objects.filter(result=PrefixCheck.Result.MISMATCH).count()
    if mismatched:
        alarms.append(
            f"{mismatched} export(s) of footage still being recorded hold bytes that the "
            "closed segment does not begin with: see Prefix checks and the audit trail."
        )
    missing = Segment.objects.filter(status=Segment.Status.MISSING).count()
    if missing:
        warnings.append(
            f"{missing} segment file(s) are missing from the disk: see Segments, status Missing."
        )
    disagree = (
        Segment.objects.media_warnings()
        .filter(hashed_at__gte=timezone.now() - timedelta(days=1))
        .count()
    )
    if disagree:
        warnings.append(
            f"{disagree} segment(s) of the last 24 hours have media whose duration, frame "
            "count and wall time disagree (the camera's timestamps went wrong): their times "
            "are not to be trusted without a look. See Segments, media warning."
        )
    if clock_synchronized() is False:
        warnings.append(
            "The system clock is not synchronised (NTP): segment times are only as "
            "right as the clock. Check the network and `timedatectl`."
        )
    return alarms, warnings


def camera_warnings(camera: Camera, now: datetime, recorder_up: bool) -> list[str]:
    if not camera.is_enabled:
        return []
    # Its answer named another host or port (cameras/trust.py): a problem until re-probed.
    refused = [f"Camera {camera.name}: {camera.refusal}"] if camera.refusal else []
    return refused + stream_warnings(camera, now, recorder_up)


def stream_warnings(camera: Camera, now: datetime, recorder_up: bool) -> list[str]:
    if camera.status in (Camera.Status.OFFLINE, Camera.Status.RECONNECTING):
        return [
            f"Camera {camera.name} is {camera.get_status_display().lower()}: {camera.last_error}"
        ]
    if recorder_up and camera.status == Camera.Status.RECORDING:
        stale = stale_since(camera, now)
        if stale:
            return [
                f"Camera {camera.name} has closed no segment since {stale:%H:%M} UTC "
                "although it is recording: see the recorder's log."
            ]
    return []


def stale_since(camera: Camera, now: datetime) -> datetime | None:
    """When the camera last showed recording activity, if that is longer ago than a segment
    (plus slack) should take; else None. Activity: a segment closed or a new file opened."""
    opened = (
        Segment.objects.filter(camera=camera)
        .recording()
        .order_by("-start")
        .values_list("start", flat=True)
        .first()
    )
    latest = max((t for t in (camera.last_segment_at, opened) if t is not None), default=None)
    if latest is None:
        return None
    limit = timedelta(seconds=settings.SEGMENT_SECONDS + 120)
    return latest if now - latest > limit else None


def may_see_health(user: User | AnonymousUser) -> bool:
    """The health details (cameras, errors, disk, replication) are for the box's roles: every
    role, and superusers, can view integrity checks; a staff account without a role cannot."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(roles.VIEW_INTEGRITY)
    )


def health_view(request: HttpRequest) -> JsonResponse:
    """200 when ok or warning, 503 when critical; details only for users with a role."""
    health = health_status()
    code = 503 if health["status"] == "critical" else 200
    if not may_see_health(request.user):
        response = JsonResponse({"status": health["status"]}, status=code)
    else:
        response = JsonResponse(health, status=code)
    # A monitor polls this every minute: a critical box is not a server error to log each time.
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's private flag
    return response
