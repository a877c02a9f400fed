"""The outbox: each fact's signed document, written in the fact's own transaction.

The lower layers call `crimebox.outbox.report()` inside their transaction; `on_fact` (connected
in SyncConfig.ready) builds and signs the document and inserts it there and then. Bounds
(docs/sync.md, "How big the outbox may grow"): delivered rows are kept OUTBOX_SENT_KEEP_DAYS
(the `boxes` and camera documents always), heartbeats HEARTBEAT_KEEP_DAYS even when never
delivered, and when the pending documents pass OUTBOX_MAX_MB the oldest pending heartbeats go
first; facts are never dropped and nothing here ever stops recording (a full disk is
retention's job, which deletes the oldest footage).
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
from crimebox.signature import canonical, from_body, sign, to_body
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
    outbox.PREFIX_CHECK: documents.prefix_check_doc,
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


def _numbered(row: OutboxItem, doc: dict, key: SigningKey) -> None:
    """Give the row its document: `n` is the row's own id, so the box's documents are numbered
    in commit order (writers take turns: IMMEDIATE transactions) with no number skipped."""
    body = to_body(sign({**doc, "n": row.pk}, key))
    row.body, row.size = body, len(body.encode())


def add_many(docs: list[dict], *, now: datetime | None = None) -> None:
    """Sign and store many documents in a few statements; a document already there is skipped."""
    key, now = signing_key(), now or timezone.now()
    with transaction.atomic():
        seen: set[str] = set()
        ids = [doc["_id"] for doc in docs]
        for i in range(0, len(ids), 500):
            seen.update(
                OutboxItem.objects.filter(doc_id__in=ids[i : i + 500]).values_list(
                    "doc_id", flat=True
                )
            )
        new = []
        for doc in docs:
            if doc["_id"] not in seen:
                seen.add(doc["_id"])
                new.append(doc)
        rows = OutboxItem.objects.bulk_create(
            [_row(doc, now) for doc in new], batch_size=500
        )  # SQLite returns the new ids (RETURNING)
        for row, doc in zip(rows, new, strict=True):
            _numbered(row, doc, key)
        OutboxItem.objects.bulk_update(rows, ["body", "size"], batch_size=500)
    if rows and (settings.RTCC_URI or settings.RTCC_URI_FILE) and not _send_queued():
        transaction.on_commit(_queue_send)


def _row(doc: dict, now: datetime) -> OutboxItem:
    collection = documents.COLLECTIONS[doc["kind"]]
    return OutboxItem(
        doc_id=doc["_id"], collection=collection, kind=doc["kind"], size=0, created_at=now
    )


def add(doc: dict, *, now: datetime | None = None) -> OutboxItem | None:
    """Sign and store one document; the same document twice is stored once (its _id)."""
    key = signing_key()
    with transaction.atomic():
        item, created = OutboxItem.objects.get_or_create(
            doc_id=doc["_id"],
            defaults={
                "collection": documents.COLLECTIONS[doc["kind"]],
                "kind": doc["kind"],
                "size": 0,
                "created_at": now or timezone.now(),
            },
        )
        if created:
            _numbered(item, doc, key)
            item.save(update_fields=["body", "size"])
    if not created:
        stored = {k: v for k, v in from_body(item.body).items() if k != "n"}
        if canonical(stored) != canonical(doc):
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
    # the datacenter under the same _id (a false integrity alarm). Camera documents stay too
    # (one per change, a few a year): a camera's next _id is counted from its earlier ones.
    sent = (
        OutboxItem.objects.filter(
            state=OutboxItem.State.SENT,
            created_at__lt=now - timedelta(days=settings.OUTBOX_SENT_KEEP_DAYS),
        )
        .exclude(kind__in=["box", outbox.CAMERA])
        .delete()[0]
    )
    SyncLog.objects.filter(started_at__lt=now - timedelta(days=SYNC_LOG_KEEP_DAYS)).delete()
    with transaction.atomic():
        old = OutboxItem.objects.filter(
            kind="heartbeat", created_at__lt=now - timedelta(days=settings.HEARTBEAT_KEEP_DAYS)
        )
        gone = list(old.exclude(state=OutboxItem.State.SENT).values_list("pk", flat=True))
        old_beats = old.delete()[0]
        if gone:
            add(documents.dropped_doc(gone, at=now, reason="older than HEARTBEAT_KEEP_DAYS"))
    dropped = 0
    while pending_bytes() > settings.OUTBOX_MAX_MB * 1_000_000:
        with transaction.atomic():
            ids = _oldest_pending_heartbeats(pending_bytes() - settings.OUTBOX_MAX_MB * 1_000_000)
            if not ids:
                break
            dropped += OutboxItem.objects.filter(pk__in=ids).delete()[0]
            add(documents.dropped_doc(ids, at=now, reason="outbox over OUTBOX_MAX_MB"))
    if dropped:
        logger.warning(
            "outbox over %d MB: dropped %d undelivered heartbeats", settings.OUTBOX_MAX_MB, dropped
        )
    return {"sent": sent, "old_heartbeats": old_beats, "dropped_heartbeats": dropped}


def _oldest_pending_heartbeats(over: int) -> list[int]:
    """Ids of the oldest undelivered heartbeats that free at least `over` bytes (1000 at most)."""
    ids = []
    for pk, size in (
        OutboxItem.objects.pending()
        .filter(kind="heartbeat")
        .order_by("id")
        .values_list("pk", "size")[:1000]
    ):
        ids.append(pk)
        over -= size
        if over <= 0:
            break
    return ids
