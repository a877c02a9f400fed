"""The outbox: each fact's signed document, written in the fact's own transaction.

The lower layers call `crimebox.outbox.report()` inside their transaction; `on_fact` (connected
in SyncConfig.ready) builds and signs the document and inserts it there and then. Bounds
(docs/sync.md, "How big the outbox may grow"): delivered rows are kept OUTBOX_SENT_KEEP_DAYS,
heartbeats HEARTBEAT_KEEP_DAYS even when never delivered, and when the pending documents pass
OUTBOX_MAX_MB the oldest pending heartbeats go first; facts are never dropped and nothing here
ever stops recording (a full disk is retention's job, which deletes the oldest footage).
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from crimebox import outbox
from crimebox.keys import SigningKey
from crimebox.signature import sign, to_body
from recordings.evidence.signing import PRIVATE_NAME, ensure_signing_key

from . import documents
from .models import OutboxItem, SyncLog

logger = logging.getLogger(__name__)

SYNC_LOG_KEEP_DAYS = 30

_BUILDERS: dict[str, Callable[..., dict]] = {
    outbox.SEGMENT: documents.segment_doc,
    outbox.SEGMENT_EVENT: documents.segment_event_doc,
    outbox.GAP_OPENED: documents.gap_opened_doc,
    outbox.GAP_CLOSED: documents.gap_closed_doc,
    outbox.CAMERA: documents.camera_doc,
    outbox.CAMERA_CLOCK: documents.camera_clock_doc,
    outbox.AUDIT: documents.audit_doc,
    outbox.EXPORT: documents.export_doc,
    outbox.INTEGRITY_CHECK: documents.integrity_check_doc,
}


_keys: dict[tuple[str, int], SigningKey] = {}


def signing_key() -> SigningKey:
    """The box key, loaded once per process (and again if the file changes)."""
    path = Path(settings.KEYS_DIR) / PRIVATE_NAME
    try:
        stamp = (str(path), path.stat().st_mtime_ns)
    except FileNotFoundError:
        stamp = None
    if stamp is None or stamp not in _keys:
        key = ensure_signing_key()
        _keys.clear()
        _keys[(str(path), path.stat().st_mtime_ns)] = key
        return key
    return _keys[stamp]


def on_fact(sender: str, obj: Any, signal: Any = None, **extra: Any) -> None:
    add(_BUILDERS[sender](obj, **extra))


def on_facts(sender: str, objs: list, signal: Any = None, **extra: Any) -> None:
    add_many([_BUILDERS[sender](obj, **extra) for obj in objs])


def add_many(docs: list[dict], *, now: datetime | None = None) -> None:
    """Sign and store many documents in a few INSERTs; a document already there is skipped."""
    key, now = signing_key(), now or timezone.now()
    rows = []
    for doc in docs:
        body = to_body(sign(doc, key))
        rows.append(
            OutboxItem(
                doc_id=doc["_id"],
                collection=documents.COLLECTIONS[doc["kind"]],
                kind=doc["kind"],
                body=body,
                size=len(body.encode()),
                created_at=now,
            )
        )
    with transaction.atomic():
        OutboxItem.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    if rows and (settings.RTCC_URI or settings.RTCC_URI_FILE) and not _send_queued():
        transaction.on_commit(_queue_send)


def add(doc: dict, *, now: datetime | None = None) -> OutboxItem | None:
    """Sign and store one document; the same document twice is stored once (its _id)."""
    signed = sign(doc, signing_key())
    body = to_body(signed)
    with transaction.atomic():
        item, created = OutboxItem.objects.get_or_create(
            doc_id=doc["_id"],
            defaults={
                "collection": documents.COLLECTIONS[doc["kind"]],
                "kind": doc["kind"],
                "body": body,
                "size": len(body.encode()),
                "created_at": now or timezone.now(),
            },
        )
    if not created:
        if item.body != body:
            logger.error("outbox: %s already holds a different document; kept the first", item)
        return None
    if (settings.RTCC_URI or settings.RTCC_URI_FILE) and not _send_queued():
        transaction.on_commit(_queue_send)
    return item


def _send_queued() -> bool:
    """Whether this transaction already queues a send on commit: one task per transaction,
    not one per document (a hold over a year of footage is 35,000 documents)."""
    pending = transaction.get_connection().run_on_commit
    return any(entry[1] is _queue_send for entry in pending)


def _queue_send() -> None:
    from django_q.tasks import async_task

    try:
        async_task("sync.tasks.send_task", save=False, q_options={"timeout": 300})
    except Exception:  # the schedule sends it within a minute anyway
        logger.exception("outbox: could not queue the sender")


def pending_bytes() -> int:
    return OutboxItem.objects.pending().aggregate(n=models.Sum("size"))["n"] or 0


def prune(now: datetime | None = None) -> dict:
    """Keep the outbox within its bounds; returns how many rows of each sort were removed."""
    now = now or timezone.now()
    # The `boxes` document stays: rebuilt later, its first_seen would differ from the copy at
    # the datacenter under the same _id (a false integrity alarm).
    sent = (
        OutboxItem.objects.filter(
            state=OutboxItem.State.SENT,
            created_at__lt=now - timedelta(days=settings.OUTBOX_SENT_KEEP_DAYS),
        )
        .exclude(kind="box")
        .delete()[0]
    )
    old_beats = OutboxItem.objects.filter(
        kind="heartbeat", created_at__lt=now - timedelta(days=settings.HEARTBEAT_KEEP_DAYS)
    ).delete()[0]
    SyncLog.objects.filter(started_at__lt=now - timedelta(days=SYNC_LOG_KEEP_DAYS)).delete()
    over = pending_bytes() - settings.OUTBOX_MAX_MB * 1_000_000
    dropped = 0
    while over > 0:
        beats = list(
            OutboxItem.objects.pending()
            .filter(kind="heartbeat")
            .order_by("id")
            .values_list("pk", "size")[:1000]
        )
        if not beats:
            break
        ids = []
        for pk, size in beats:
            ids.append(pk)
            over -= size
            if over <= 0:
                break
        dropped += OutboxItem.objects.filter(pk__in=ids).delete()[0]
    if dropped:
        logger.warning(
            "outbox over %d MB: dropped %d undelivered heartbeats", settings.OUTBOX_MAX_MB, dropped
        )
    return {"sent": sent, "old_heartbeats": old_beats, "dropped_heartbeats": dropped}
