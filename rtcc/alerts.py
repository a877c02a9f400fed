"""Alerts: raised and resolved by the ingest on state changes, sent by e-mail and webhook.

`raise_alert` and `resolve` are idempotent (one active alert per key), so the ingest may call
them on every evaluation and only a change writes a row. Sending happens in `notify_due()`, a
step of each pass outside any transaction: a failed send is retried on a later pass (doubling
back-off, RTCC_WEBHOOK_ATTEMPTS in all), never by sleeping inside one.
"""

import json
import logging
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from crimebox.redaction import redact_text

from .models import Alert, Box, Camera, IntegrityProblem

logger = logging.getLogger(__name__)

EMAIL, WEBHOOK = "email", "webhook"  # the channels, as Alert.notify_sent names them


def alert_key(kind: str, box: Box, camera: Camera | None, subject: str) -> str:
    return f"{kind}:{box.pk}:{camera.pk if camera else ''}:{subject}"[:500]


def raise_alert(
    kind: str,
    box: Box,
    message: str,
    *,
    camera: Camera | None = None,
    subject: str = "",
    now: datetime | None = None,
) -> Alert | None:
    """The new alert, or None when the same one is already active."""
    key = alert_key(kind, box, camera, subject)
    if Alert.objects.active().filter(key=key).exists():
        return None
    now = now or timezone.now()
    alert = Alert.objects.create(
        kind=kind,
        box=box,
        camera=camera,
        subject=subject[:300],
        key=key,
        message=message[:2000],
        raised_at=now,
        next_notify_at=now,
    )
    logger.warning("alert raised: %s", alert.message)
    return alert


def resolve(
    kind: str,
    box: Box,
    *,
    camera: Camera | None = None,
    subject: str = "",
    now: datetime | None = None,
) -> int:
    now = now or timezone.now()
    key = alert_key(kind, box, camera, subject)
    done = (
        Alert.objects.active()
        .filter(key=key)
        .update(resolved_at=now, next_notify_at=now, notify_attempts=0, notify_sent="")
    )
    if done:
        logger.info("alert resolved: %s", key)
    return done


def problem(
    kind: str,
    box: Box,
    detail: str,
    *,
    doc: dict | None = None,
    camera: Camera | None = None,
    sequence: int | None = None,
    now: datetime | None = None,
) -> IntegrityProblem:
    """Record an integrity problem and raise its alert (one per document or subject)."""
    now = now or timezone.now()
    doc_id = str(doc.get("_id", ""))[:300] if isinstance(doc, dict) else ""
    n = doc.get("n") if isinstance(doc, dict) and isinstance(doc.get("n"), int) else None
    found = IntegrityProblem.objects.create(
        kind=kind,
        box=box,
        camera=camera,
        sequence=sequence,
        doc_id=doc_id,
        n=n,
        detail=detail[:2000],
        found_at=now,
    )
    where = f" camera {camera.name}" if camera else ""
    where += f" sequence {sequence}" if sequence is not None else ""
    where += f" document {doc_id}" if doc_id else ""
    raise_alert(
        Alert.Kind.INTEGRITY,
        box,
        f"Integrity: box {box.box_id}{where}: {found.get_kind_display()}: {detail}",
        camera=camera,
        subject=doc_id or f"{kind}:{detail}",
        now=now,
    )
    if box.integrity_ok:
        Box.objects.filter(pk=box.pk).update(integrity_ok=False)
        box.integrity_ok = False
    return found


def payload(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "state": "resolved" if alert.resolved_at else "raised",
        "box": alert.box.box_id,
        "camera": alert.camera.name if alert.camera else None,
        "subject": alert.subject,
        "message": alert.message,
        "raised_at": alert.raised_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def notify_due(now: datetime | None = None, limit: int = 50) -> int:
    """Send what is due (raises and resolutions); returns how many alerts were settled."""
    now = now or timezone.now()
    if not (settings.RTCC_ALERT_EMAILS or settings.RTCC_WEBHOOK_URL):
        return Alert.objects.filter(next_notify_at__isnull=False).update(next_notify_at=None)
    settled = 0
    due = Alert.objects.filter(next_notify_at__lte=now).select_related("box", "camera")
    for alert in list(due.order_by("next_notify_at")[:limit]):
        done = set(alert.notify_sent.split())
        error = _send(alert, done)
        with transaction.atomic():
            if not error:
                field = "resolve_notified_at" if alert.resolved_at else "notified_at"
                setattr(alert, field, now)
                alert.notify_attempts, alert.next_notify_at, alert.notify_error = 0, None, ""
                alert.notify_sent = ""
                settled += 1
            else:
                alert.notify_attempts += 1
                alert.notify_error = error[:2000]
                alert.notify_sent = " ".join(sorted(done))
                give_up = alert.notify_attempts >= settings.RTCC_WEBHOOK_ATTEMPTS
                delay = timedelta(seconds=30 * 2 ** (alert.notify_attempts - 1))
                alert.next_notify_at = None if give_up else now + delay
                logger.warning("alert %s: notification failed: %s", alert.pk, error)
            alert.save()
    return settled


def _send(alert: Alert, done: set[str]) -> str:
    """E-mail and webhook, each unless in `done` (which gains each channel that went out: a
    retry after the webhook failed does not e-mail everyone again); the error text ("" when
    every channel went out)."""
    errors = []
    data = payload(alert)
    if settings.RTCC_ALERT_EMAILS and EMAIL not in done:
        subject = f"[RTCC] {data['state']}: {alert.get_kind_display()} on {data['box']}"
        try:
            send_mail(
                subject[:200], alert.message, None, settings.RTCC_ALERT_EMAILS, fail_silently=False
            )
            done.add(EMAIL)
        except Exception as e:  # SMTP errors are many: each is retried the same way
            errors.append(f"e-mail: {e}")
    if settings.RTCC_WEBHOOK_URL and WEBHOOK not in done:
        try:
            response = httpx.post(
                settings.RTCC_WEBHOOK_URL,
                content=json.dumps(data),
                headers={"Content-Type": "application/json"},
                timeout=settings.RTCC_WEBHOOK_TIMEOUT_SECONDS,
            )
            if response.status_code >= 300:
                errors.append(f"webhook: HTTP {response.status_code}")
            else:
                done.add(WEBHOOK)
        except httpx.HTTPError as e:
            errors.append(f"webhook: {type(e).__name__}: {e}")
    return redact_text("; ".join(errors))
