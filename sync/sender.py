"""Sending the outbox: claim a batch, insert it, settle each document, log the attempt.

Insert-only. A duplicate key (11000) means the document is already there (sent by a pass that
died before marking it): the stored copy is fetched and compared. Identical: delivered.
Different: an integrity alarm (critical in health, an audit entry), never overwritten. Any other
failure keeps the rows pending and backs off: 5 s, doubling, at most 5 minutes.
"""

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from crimebox.signature import from_body, same
from recordings.evidence.signing import ensure_signing_key

from . import documents, remote
from .models import OutboxItem, SyncLog, SyncState
from .outbox import add

logger = logging.getLogger(__name__)

BATCH = 500
LEASE = timedelta(minutes=5)  # longer than any pass's deadlines: an older claim is a dead worker
BACKOFF_FIRST, BACKOFF_MAX = 5, 300  # seconds


@dataclass
class PassResult:
    sent: int = 0
    attempts: int = 0
    mismatches: int = 0
    error: str = ""
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not self.skipped and not self.mismatches


def claim(limit: int = BATCH, now: datetime | None = None) -> list[OutboxItem]:
    """Take up to `limit` pending rows for this sender: a conditional UPDATE, so two workers
    never hold the same row; a claim older than LEASE (a killed worker's) is taken over."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    ids = list(
        OutboxItem.objects.unclaimed(now - LEASE)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return []
    OutboxItem.objects.unclaimed(now - LEASE).filter(pk__in=ids).update(claim=token, claimed_at=now)
    return list(OutboxItem.objects.filter(claim=token, state=OutboxItem.State.PENDING))


def ensure_box_document() -> None:
    """The `boxes` document registering this box's key (once per key)."""
    key = ensure_signing_key()
    doc = documents.box_doc(key, first_seen=timezone.now())
    if not OutboxItem.objects.filter(doc_id=doc["_id"]).exists():
        with transaction.atomic():
            add(doc)


def send_batch(items: list[OutboxItem]) -> PassResult:
    """One attempt: insert every claimed row, settle each, write the SyncLog row."""
    started, t0 = timezone.now(), time.monotonic()
    result = PassResult(attempts=1)
    delivered, failed, mismatched = [], {}, []
    by_collection = defaultdict(list)
    for item in items:
        by_collection[item.collection].append(item)
    try:
        for collection, group in by_collection.items():
            docs = {item.doc_id: from_body(item.body) for item in group}
            answer = remote.insert(collection, list(docs.values()))
            delivered += answer.inserted
            failed.update(answer.failed)
            if answer.duplicates:
                stored = remote.by_ids(collection, answer.duplicates)
                for doc_id in answer.duplicates:
                    if doc_id in stored and same(docs[doc_id], stored[doc_id]):
                        delivered.append(doc_id)
                    elif doc_id in stored:
                        mismatched.append(doc_id)
                    else:
                        failed[doc_id] = "duplicate key but not found at the datacenter"
    except remote.RemoteError as e:
        result.error = str(e)
    settle(items, delivered, failed, mismatched, result.error)
    result.sent, result.mismatches = len(delivered), len(mismatched)
    if failed and not result.error:
        result.error = f"{len(failed)} document(s) refused: {next(iter(failed.values()))}"
    SyncLog.objects.create(
        started_at=started,
        duration=time.monotonic() - t0,
        items=len(items),
        delivered=len(delivered),
        bytes=sum(i.size for i in items),
        result=SyncLog.Result.MISMATCH
        if mismatched
        else SyncLog.Result.FAILED
        if result.error
        else SyncLog.Result.OK,
        error=result.error[:2000],
    )
    return result


def settle(
    items: list[OutboxItem],
    delivered: list[str],
    failed: dict[str, str],
    mismatched: list[str],
    error: str,
) -> None:
    now = timezone.now()
    ids = {i.doc_id: i.pk for i in items}
    with transaction.atomic():
        OutboxItem.objects.filter(pk__in=[ids[d] for d in delivered]).update(
            state=OutboxItem.State.SENT, sent_at=now, claim="", claimed_at=None, last_error=""
        )
        for doc_id in mismatched:
            OutboxItem.objects.filter(pk=ids[doc_id]).update(
                state=OutboxItem.State.MISMATCH,
                claim="",
                claimed_at=None,
                last_error="the datacenter holds a different document under this _id",
            )
            log.record(
                AuditEvent.Action.SYSTEM,
                username="sync",
                target=f"outbox {doc_id}"[:200],
                detail={"alarm": "datacenter copy differs from the box's document", "_id": doc_id},
            )
        done = set(delivered) | set(mismatched)
        for item in items:
            if item.doc_id not in done:
                OutboxItem.objects.filter(pk=item.pk).update(
                    claim="",
                    claimed_at=None,
                    attempts=item.attempts + 1,
                    last_error=(failed.get(item.doc_id) or error)[:2000],
                )
    for doc_id in mismatched:
        logger.critical("sync: the datacenter's copy of %s differs from the box's", doc_id)


def send_pending(*, force: bool = False, max_seconds: float = 120.0) -> PassResult:
    """Drain the outbox in batches until it is empty, a batch fails, or time is up.

    `force` ignores the back-off (sync_now). Off (no URI): nothing happens, rows stay pending.
    """
    total = PassResult()
    if not remote.is_configured():
        total.skipped = "replication is off (CRIMEBOX_RTCC_URI is not set)"
        return total
    state = SyncState.get()
    now = timezone.now()
    if not force and state.next_attempt_at and state.next_attempt_at > now:
        total.skipped = f"backing off until {state.next_attempt_at:%H:%M:%S} UTC"
        return total
    ensure_box_document()
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        batch = claim()
        if not batch:
            break
        result = send_batch(batch)
        total.sent += result.sent
        total.attempts += 1
        total.mismatches += result.mismatches
        if result.error:
            total.error = result.error
            break
    record_outcome(total)
    return total


def record_outcome(result: PassResult, now: datetime | None = None) -> None:
    now = now or timezone.now()
    state = SyncState.get()
    if result.error:
        state.failures += 1
        delay = min(BACKOFF_FIRST * 2 ** (state.failures - 1), BACKOFF_MAX)
        state.next_attempt_at = now + timedelta(seconds=delay)
        state.last_error, state.last_error_at = result.error[:2000], now
        logger.warning(
            "sync failed (%d in a row, next try in %d s): %s", state.failures, delay, result.error
        )
    elif result.attempts:
        state.failures, state.next_attempt_at, state.last_success_at = 0, None, now
    state.save()
