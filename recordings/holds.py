"""Legal hold: a time range of a camera that retention never deletes while the hold lasts."""

from django.db import transaction
from django.utils import timezone

from audit import log
from audit.models import AuditEvent

from .models import LegalHold, Segment


class HoldError(ValueError):
    """Bad hold input: the message is for the user."""


def _refresh_segments(camera, start, end) -> int:
    """Recompute on_hold for the camera's segments overlapping [start, end); returns held count."""
    segments = Segment.objects.filter(camera=camera).overlapping(start, end)
    held = 0
    for segment in segments.only("id", "start", "end", "on_hold"):
        on_hold = LegalHold.objects.filter(
            camera=camera, released_at=None, start__lt=segment.end, end__gt=segment.start
        ).exists()
        if on_hold != segment.on_hold:
            Segment.objects.filter(pk=segment.pk).update(on_hold=on_hold)
        held += on_hold
    return held


def place_hold(camera, start, end, reason, *, user=None, request=None, case_number=""):
    """Hold every segment of `camera` overlapping [start, end), now and recorded later."""
    if not reason or not reason.strip():
        raise HoldError("A legal hold needs a reason.")
    if end <= start:
        raise HoldError("The end of a hold must be after its start.")
    with transaction.atomic():
        hold = LegalHold.objects.create(
            camera=camera, start=start, end=end, reason=reason.strip(),
            case_number=case_number, created_by=user,
        )
        count = _refresh_segments(camera, start, end)
    log.record(AuditEvent.Action.HOLD, request=request, user=user, camera=camera,
               target=f"hold {hold.pk}",
               detail={"start": start, "end": end, "reason": hold.reason,
                       "case_number": case_number, "segments": count})
    return hold


def release_hold(hold: LegalHold, reason, *, user=None, request=None) -> LegalHold:
    if not hold.is_active:
        raise HoldError("This hold was already released.")
    if not reason or not reason.strip():
        raise HoldError("Releasing a legal hold needs a reason.")
    with transaction.atomic():
        hold.released_at = timezone.now()
        hold.released_by = user
        hold.release_reason = reason.strip()
        hold.save(update_fields=["released_at", "released_by", "release_reason"])
        _refresh_segments(hold.camera, hold.start, hold.end)
    log.record(AuditEvent.Action.RELEASE, request=request, user=user, camera=hold.camera,
               target=f"hold {hold.pk}", detail={"reason": hold.release_reason})
    return hold
