"""The one way to write the audit trail: append a hash-chained AuditEvent.

Entry hash = SHA-256 over the previous entry's hash and this entry's fields (docs/integrity.md).
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from crimebox import outbox
from crimebox.hashing import GENESIS, chain_link
from crimebox.utc import utc_iso

from .models import AuditCheck, AuditEvent

logger = logging.getLogger(__name__)

CHAIN_VERSION = "crimebox-audit-v1"
# The audit trail's PostgreSQL advisory lock number ("audt" in ASCII).
APPEND_LOCK = 0x61756474


def serialise_appends() -> None:
    """Inside a transaction: no other append until it ends. SQLite's `BEGIN IMMEDIATE` already
    gives that; under PostgreSQL's READ COMMITTED two appends would read the same last entry,
    and the second would fail on the unique sequence (the entry lost, the request a 500). The
    lock is taken before the read, so the read after it sees the entry committed before it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address as the box saw it (no proxy sits in front of gunicorn here)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def event_hash(
    *,
    sequence: int,
    prev_hash: str,
    at: datetime,
    username: str,
    client_ip: str | None,
    action: str,
    camera_id: int | None,
    camera_name: str,
    target: str,
    detail: dict,
) -> str:
    return chain_link(
        CHAIN_VERSION,
        [
            str(sequence),
            prev_hash,
            utc_iso(at),
            username,
            client_ip or "",
            action,
            str(camera_id or ""),
            camera_name,
            target,
            json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str),
        ],
    )


def compute_hash(event: AuditEvent) -> str:
    return event_hash(
        sequence=event.sequence,
        prev_hash=event.prev_hash,
        at=event.at,
        username=event.username,
        client_ip=event.client_ip,
        action=event.action,
        camera_id=event.camera_id,
        camera_name=event.camera_name,
        target=event.target,
        detail=event.detail,
    )


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    user: Any = None,
    camera: Any = None,
    target: str = "",
    detail: dict | None = None,
    username: str | None = None,
    at: datetime | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one entry. `user` defaults to request.user; `username` for failed logins;
    `ip` when the request is gone (a live session closed by the live supervisor)."""
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    if username is None:
        username = user.get_username() if user is not None else ""
    # Round-trip through JSON now so the hash covers exactly what the database stores.
    detail = json.loads(json.dumps(detail or {}, default=str))
    event = AuditEvent(
        at=at or timezone.now(),
        user=user,
        username=username,
        client_ip=ip or client_ip(request),
        action=action,
        camera=camera,
        camera_name=camera.name if camera is not None else "",
        target=target[:200],
        detail=detail,
    )
    with transaction.atomic():
        serialise_appends()
        last = AuditEvent.objects.order_by("-sequence").first()
        event.sequence = last.sequence + 1 if last else 1
        event.prev_hash = last.hash if last else GENESIS
        event.hash = compute_hash(event)
        event.save(force_insert=True)
        outbox.report(outbox.AUDIT, event)
    return event


def record_transfer(
    action: str,
    *,
    request: HttpRequest,
    target: str,
    detail: dict,
    sent: int,
    length: int,
    complete: bool,
    span: str = "",
    camera: Any = None,
) -> None:
    """A file transfer that ended, whole or cut: `detail` plus what was sent. `sent` is what
    the socket accepted; the kernel's buffers and the network still lay between it and the
    client, which may have read none of it: so, "at most". Never raises: the bytes are gone
    either way, and a failed write is logged with its detail instead of lost."""
    detail = {
        **detail,
        "result": "sent" if complete else "interrupted",
        "bytes_sent": sent,
        "received": f"at most {sent} bytes",
        "bytes": length,
    }
    if span:
        detail["range"] = span
    try:
        record(action, request=request, camera=camera, target=target, detail=detail)
    except Exception:
        logger.exception("could not audit %s: %s", target, detail)


def record_per_minute(
    action: str, *, request: HttpRequest, camera: Any, target: str, detail: dict
) -> AuditEvent | None:
    """One entry per user, camera and action each minute (stills: a page of thumbnails is
    dozens of requests); None when this minute's entry exists. It stands for every such
    request of that minute, so the trail stays readable."""
    now = timezone.now()
    minute = now.replace(second=0, microsecond=0)
    user = request.user if request.user.is_authenticated else None
    name = user.get_username() if user is not None else ""
    with transaction.atomic():  # IMMEDIATE: the check and the entry are one step
        serialise_appends()
        done = AuditEvent.objects.filter(
            username=name, at__gte=minute, action=action, camera_id=camera.pk
        )
        if done.exists():
            return None
        return record(action, request=request, camera=camera, target=target, detail=detail, at=now)


@dataclass
class ChainWalk:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    last_sequence: int = 0
    last_hash: str = GENESIS


def walk_chain(after_sequence: int = 0, prev_hash: str = GENESIS) -> ChainWalk:
    """Verify the entries after `after_sequence`, whose hash was `prev_hash` (all by default)."""
    walk = ChainWalk(last_sequence=after_sequence, last_hash=prev_hash)
    expected = after_sequence + 1
    events = AuditEvent.objects.filter(sequence__gt=after_sequence).order_by("sequence")
    for event in events.iterator():
        walk.checked += 1
        if event.sequence != expected:
            walk.problems.append(f"entries {expected}..{event.sequence - 1} are missing")
        if event.prev_hash != walk.last_hash:
            walk.problems.append(f"entry {event.sequence} does not follow the previous entry")
        if compute_hash(event) != event.hash:
            walk.problems.append(f"entry {event.sequence} was altered")
        walk.last_hash, walk.last_sequence = event.hash, event.sequence
        expected = event.sequence + 1
    return walk


def run_check() -> AuditCheck:
    """Walk the whole chain and store the result (shown in the audit list and in health)."""
    check = AuditCheck.objects.create()
    walk = walk_chain()
    check.checked, check.problems, check.ok = walk.checked, walk.problems, not walk.problems
    check.last_sequence, check.last_hash = walk.last_sequence, walk.last_hash
    check.finished_at = timezone.now()
    check.save()
    return check


def chain_status() -> tuple[bool, str]:
    """For the audit list: the newest full check, plus the entries written since it."""
    full = AuditCheck.objects.exclude(finished_at=None).first()
    if full is None:
        full = run_check()
    if not full.ok:
        return False, (
            f"CHAIN BROKEN at the check of {full.started_at:%Y-%m-%d %H:%M} UTC: "
            + "; ".join(full.problems[:5])
        )
    since = walk_chain(full.last_sequence, full.last_hash or GENESIS)
    if since.problems:
        return False, "CHAIN BROKEN: " + "; ".join(since.problems[:5])
    return True, (
        f"chain intact ({full.checked} entries at the full check of "
        f"{full.started_at:%Y-%m-%d %H:%M} UTC, {since.checked} since)"
    )
