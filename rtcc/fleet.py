"""The fleet's state: each box and camera recording / degraded / dark / never seen, and the
alerts that follow its changes. Last contact is the console's clock (when the ingest saw the
heartbeat), never the box's."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from . import alerts
from .models import Alert, Box, Camera, IntegrityProblem, SegmentRecord, Verification


def evaluate_all(now: datetime) -> int:
    """Judge every enrolled box; a row is written only where something changed."""
    changed = 0
    boxes = Box.objects.enrolled().prefetch_related("cameras")
    for box in boxes:
        with transaction.atomic():
            changed += evaluate(box, now)
    return changed


def _health_conditions(box: Box) -> list[tuple[str, bool, str]]:
    """(alert kind, is it on, message) for what the last heartbeat said."""
    h: dict[str, Any] = box.health or {}
    floor = int(settings.RTCC_DISK_FLOOR_GB * 1e9)
    free = h.get("disk_free")
    age = h.get("backlog_age_s")
    return [
        (
            Alert.Kind.DISK,
            isinstance(free, int) and free < floor,
            f"Box {box.box_id}: {free or 0:,} bytes free, below the {floor:,} floor",
        ),
        (
            Alert.Kind.POWER,
            bool(h.get("under_voltage") or h.get("throttled")),
            f"Box {box.box_id}: under-voltage or throttling reported",
        ),
        (
            Alert.Kind.CLOCK,
            h.get("clock_synced") is False,
            f"Box {box.box_id}: its clock is not synchronised",
        ),
        (
            Alert.Kind.BACKLOG,
            isinstance(age, int) and age > settings.RTCC_BACKLOG_ALERT_MINUTES * 60,
            f"Box {box.box_id}: outbox backlog {age or 0} s old",
        ),
    ]


def evaluate(box: Box, now: datetime) -> int:
    silent = box.last_contact_at is None or (
        now - box.last_contact_at > timedelta(minutes=settings.RTCC_SILENT_MINUTES)
    )
    active = set(box.alerts.active().values_list("key", flat=True))

    def toggle(kind: str, on: bool, message: str, camera: Camera | None = None) -> None:
        key = alerts.alert_key(kind, box, camera, "")
        if on and key not in active:
            alerts.raise_alert(kind, box, message, camera=camera, now=now)
        elif not on and key in active:
            alerts.resolve(kind, box, camera=camera, now=now)

    seen = box.last_contact_at is not None
    toggle(
        Alert.Kind.SILENT,
        seen and silent,
        f"Box {box.box_id} silent since {box.last_contact_at:%Y-%m-%d %H:%M:%S} UTC"
        if seen
        else "",
    )
    degraded = []
    for kind, on, message in _health_conditions(box):
        toggle(kind, on and not silent, message)
        if on:
            degraded.append(message)
    changed = 0
    for camera in box.cameras.all():
        state = camera_state(camera, seen, silent)
        toggle(
            Alert.Kind.NOT_RECORDING,
            state == Camera.State.NOT_RECORDING,
            f"Box {box.box_id} camera {camera.name} is not recording ({camera.box_status})",
            camera,
        )
        if state == Camera.State.NOT_RECORDING:
            degraded.append(f"camera {camera.name} not recording")
        if camera.state != state:
            Camera.objects.filter(pk=camera.pk).update(state=state)
            changed += 1
    state, reason = box_state(seen, silent, degraded)
    if (box.state, box.state_reason) != (state, reason):
        Box.objects.filter(pk=box.pk).update(state=state, state_reason=reason[:300])
        box.state, box.state_reason = state, reason[:300]
        changed += 1
    return changed


def camera_state(camera: Camera, seen: bool, silent: bool) -> str:
    if not seen:
        return Camera.State.NEVER_SEEN
    if silent:
        return Camera.State.DARK
    if not camera.is_enabled:
        return Camera.State.DISABLED
    if camera.box_status == "recording":
        return Camera.State.RECORDING
    return Camera.State.NOT_RECORDING


def box_state(seen: bool, silent: bool, degraded: list[str]) -> tuple[str, str]:
    if not seen:
        return Box.State.NEVER_SEEN, ""
    if silent:
        return Box.State.DARK, "no heartbeat"
    if degraded:
        return Box.State.DEGRADED, "; ".join(degraded)
    return Box.State.RECORDING, ""


def report_orphans(before: datetime, now: datetime) -> None:
    """Segments whose previous sequence never came (while they did), past the grace period."""
    orphans = SegmentRecord.objects.filter(
        verification=Verification.UNLINKED, ingested_at__lt=before
    ).select_related("box", "camera")
    for record in orphans[:500]:
        with transaction.atomic():
            alerts.problem(
                IntegrityProblem.Kind.MISSING_SEQUENCE,
                record.box,
                f"sequence {record.sequence - 1} never arrived; sequence {record.sequence} did",
                doc={"_id": record.doc_id, "n": record.n},
                camera=record.camera,
                sequence=record.sequence - 1,
                now=now,
            )
            SegmentRecord.objects.filter(pk=record.pk).update(verification=Verification.ORPHAN)


def summary(now: datetime) -> list[dict]:
    """The fleet as the fleet page shows it (rtcc_boxes)."""
    out = []
    boxes = Box.objects.prefetch_related("cameras").order_by("box_id")
    for box in boxes:
        out.append(
            {
                "box": box.box_id,
                "state": box.state,
                "reason": box.state_reason,
                "enrolment": box.enrolment,
                "fingerprint": box.fingerprint,
                "last_contact": box.last_contact_at.isoformat() if box.last_contact_at else None,
                "silent_s": int((now - box.last_contact_at).total_seconds())
                if box.last_contact_at
                else None,
                "software": box.software,
                "integrity_ok": box.integrity_ok,
                "untrusted": box.untrusted,
                "cameras": [
                    {
                        "camera": c.name,
                        "state": c.state,
                        "last_segment_end": c.last_segment_end.isoformat()
                        if c.last_segment_end
                        else None,
                    }
                    for c in sorted(box.cameras.all(), key=lambda c: c.name)
                ],
            }
        )
    return out
