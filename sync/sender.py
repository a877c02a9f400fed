"""Sending the outbox: claim a batch, insert it, settle each document, log the attempt.

Insert-only. A duplicate key (11000) means a document is already there under that `_id`: the
stored copy is fetched and judged with the box's key (duplicates.py): the box's own copy is
delivered; another document is an alarm (one audit entry per batch, never one for an alarm's
own document), never overwritten. Any other failure, or a reply that is not what MongoDB sends,
keeps the rows pending and backs off: 5 s, doubling, at most 5 minutes, cut short by a ping.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from cameras.models import Camera
from crimebox.signature import from_body
from recordings.evidence.signing import ensure_signing_key

from . import claims, documents, duplicates, remote
from .models import OutboxItem, SyncLog, SyncState
from .outbox import add_many

logger = logging.getLogger(__name__)

BATCH = 500
LEASE = timedelta(minutes=5)  # longer than any pass's deadlines: an older claim is a dead worker
BACKOFF_FIRST, BACKOFF_MAX = 5, 300  # seconds
PING_EVERY, PING_SECONDS = 5.0, 2.0  # while backing off: is the datacenter back?
ALARM_USER = "sync"
SQUATTED = "squatted:"  # last_error prefix of a row whose _id a non-box document holds


@dataclass
class PassResult:
    sent: int = 0
    attempts: int = 0
    mismatches: int = 0
    squatted: int = 0  # delivered under an alternate _id: an alarm all the same
    error: str = ""
    skipped: str = ""
    held: str = ""  # rows a running sender holds (said by sync_now, not a failure)

    @property
    def ok(self) -> bool:
        return not self.error and not self.skipped and not self.mismatches and not self.squatted


def claim(limit: int = BATCH, now: datetime | None = None) -> list[OutboxItem]:
    """Take up to `limit` pending rows for this sender: a conditional UPDATE, so two workers
    never hold the same row; a killed sender's claim is released at once (claims.py), and any
    claim older than LEASE is taken over."""
    now = now or timezone.now()
    claims.release_dead()
    token = claims.new_token()
    ids = list(
        OutboxItem.objects.unclaimed(now - LEASE)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return []
    OutboxItem.objects.unclaimed(now - LEASE).filter(pk__in=ids).update(claim=token, claimed_at=now)
    return list(OutboxItem.objects.filter(claim=token, state=OutboxItem.State.PENDING))


def ensure_registration() -> None:
    """The `boxes` document registering this box's key, and each camera's current state.

    Skipped quietly when already there: two workers starting together both get here, and
    `add_many` ignores the one that lost (no false "different document" error). Camera
    documents are written with every camera change; this catches a camera created without
    one (the built-in test pattern) and queues nothing when all are there."""
    key = ensure_signing_key()
    # One transaction: a camera document's _id depends on the camera's last one in the outbox,
    # so the camera rows and the outbox are read and written with no change in between.
    with transaction.atomic():
        docs = [documents.box_doc(key, first_seen=timezone.now())]
        docs += [documents.camera_doc(camera) for camera in Camera.objects.all()]
        present = set(
            OutboxItem.objects.filter(doc_id__in=[d["_id"] for d in docs]).values_list(
                "doc_id", flat=True
            )
        )
        missing = [d for d in docs if d["_id"] not in present]
        if missing:
            add_many(missing)


ensure_box_document = ensure_registration  # its former name


def send_batch(items: list[OutboxItem]) -> PassResult:
    """One attempt: insert every claimed row, settle each, write the SyncLog row. Whatever the
    datacenter answers, the rows are settled (or released) and the attempt is logged."""
    started, t0 = timezone.now(), time.monotonic()
    result = PassResult(attempts=1)
    outcome = duplicates.Resolution()
    try:
        _send(items, outcome)
    except remote.RemoteError as e:
        result.error = str(e)
    except Exception as e:  # never leave rows claimed with nothing said
        logger.exception("sync: unexpected failure while sending")
        result.error = remote.unexpected(e)
    settle(items, outcome, result.error)
    delivered = len(outcome.delivered) + len(outcome.delivered_as)
    result.sent = delivered
    result.mismatches = len(outcome.mismatched) + len(outcome.squatted)
    result.squatted = len(outcome.delivered_as)
    if outcome.failed and not result.error:
        result.error = (
            f"{len(outcome.failed)} document(s) refused: {next(iter(outcome.failed.values()))}"
        )
    SyncLog.objects.create(
        started_at=started,
        duration=time.monotonic() - t0,
        items=len(items),
        delivered=delivered,
        bytes=sum(i.size for i in items),
        result=SyncLog.Result.MISMATCH
        if result.mismatches or result.squatted
        else SyncLog.Result.FAILED
        if result.error
        else SyncLog.Result.OK,
        error=result.error[:2000],
    )
    return result


def _send(items: list[OutboxItem], outcome: duplicates.Resolution) -> None:
    by_collection = defaultdict(list)
    for item in items:
        by_collection[item.collection].append(item)
    for collection, group in by_collection.items():
        docs = {item.doc_id: from_body(item.body) for item in group}
        answer = remote.insert(collection, list(docs.values()))
        outcome.delivered += answer.inserted
        outcome.failed.update(answer.failed)
        if answer.duplicates:
            found = duplicates.resolve(collection, docs, answer.duplicates)
            outcome.delivered += found.delivered
            outcome.delivered_as.update(found.delivered_as)
            outcome.mismatched += found.mismatched
            outcome.squatted += found.squatted
            outcome.failed.update(found.failed)


def settle(items: list[OutboxItem], outcome: duplicates.Resolution, error: str) -> None:
    now = timezone.now()
    rows = {i.doc_id: i for i in items}
    alarmed = [*outcome.mismatched, *outcome.squatted, *outcome.delivered_as]
    with transaction.atomic():
        OutboxItem.objects.filter(pk__in=[rows[d].pk for d in outcome.delivered]).update(
            state=OutboxItem.State.SENT, sent_at=now, claim="", claimed_at=None, last_error=""
        )
        for doc_id, alt in outcome.delivered_as.items():
            OutboxItem.objects.filter(pk=rows[doc_id].pk).update(
                state=OutboxItem.State.SENT,
                sent_at=now,
                claim="",
                claimed_at=None,
                last_error=f"{SQUATTED} delivered as {alt}: {doc_id} is held at the datacenter "
                "by a document not signed by this box's key",
            )
        for doc_id in [*outcome.mismatched, *outcome.squatted]:
            squatted = doc_id in outcome.squatted
            OutboxItem.objects.filter(pk=rows[doc_id].pk).update(
                state=OutboxItem.State.MISMATCH,
                claim="",
                claimed_at=None,
                last_error=f"{SQUATTED} {doc_id} and its alternate ids are held at the "
                "datacenter by documents not signed by this box's key"
                if squatted
                else "the datacenter holds a different document under this _id",
            )
        done = set(outcome.delivered) | set(alarmed)
        for item in items:
            if item.doc_id not in done:
                OutboxItem.objects.filter(pk=item.pk).update(
                    claim="",
                    claimed_at=None,
                    attempts=F("attempts") + 1,
                    last_error=(outcome.failed.get(item.doc_id) or error)[:2000],
                )
        _alarm(outcome, [rows[d] for d in alarmed])


def _alarm(outcome: duplicates.Resolution, items: list[OutboxItem]) -> None:
    """One audit entry per batch for what the datacenter holds that is not the box's, except
    for documents that are themselves such alarms: an alarm never causes another (an alarm's
    own document squatted is logged and delivered under its alternate, nothing more)."""
    if not items:
        return
    for item in items:
        logger.critical("sync: %s: %s", item.doc_id, _what(outcome, item.doc_id))
    causes = [i.doc_id for i in items if not _is_alarm(i)]
    if not causes:
        return
    log.record(
        AuditEvent.Action.SYSTEM,
        username=ALARM_USER,
        target=f"outbox {causes[0]}"[:200],
        detail={
            "alarm": "the datacenter holds documents under this box's ids that are not the box's",
            "_id": causes[0],
            "count": len(causes),
            "ids": {doc_id: _what(outcome, doc_id) for doc_id in causes[:20]},
        },
    )


def _what(outcome: duplicates.Resolution, doc_id: str) -> str:
    if doc_id in outcome.delivered_as:
        return (
            f"squatted (not signed by this box's key); delivered as {outcome.delivered_as[doc_id]}"
        )
    if doc_id in outcome.squatted:
        return "squatted, and every alternate id too; not delivered"
    return "a different document signed by this box's key"


def _is_alarm(item: OutboxItem) -> bool:
    if item.kind != "audit":
        return False
    doc = from_body(item.body)
    return doc.get("username") == ALARM_USER and "alarm" in (doc.get("detail") or {})


def send_pending(*, force: bool = False, max_seconds: float = 120.0) -> PassResult:
    """Drain the outbox in batches until it is empty, a batch fails, or time is up.

    A ping opens every pass, so an unreachable datacenter is said (within the server-selection
    time) even when there is nothing to send. `force` ignores the back-off (sync_now). While
    backing off, a cheap ping (at most one every PING_EVERY) cuts the back-off short as soon as
    the datacenter answers again. Off (no URI, or a URI that cannot work): nothing happens,
    rows stay pending.
    """
    total = PassResult()
    if not remote.is_configured():
        total.skipped = "replication is off (CRIMEBOX_RTCC_URI is not set)"
        return total
    problem = remote.config_problem()
    if problem:
        total.skipped = f"replication is off: {problem}"
        return total
    state = SyncState.get()
    if not force and state.next_attempt_at and state.next_attempt_at > timezone.now():
        if not _answers_again():
            total.skipped = f"backing off until {state.next_attempt_at:%H:%M:%S} UTC"
            return total
        logger.info("sync: the datacenter answers again; back-off cut short")
    ensure_registration()
    started, t0 = timezone.now(), time.monotonic()
    try:  # unreachable: said within the server-selection time, not the insert's deadline
        remote.ping()
    except remote.RemoteError as e:
        total.error = str(e)
        SyncLog.objects.create(
            started_at=started,
            duration=time.monotonic() - t0,
            result=SyncLog.Result.FAILED,
            error=total.error[:2000],
        )
    else:
        _drain(total, time.monotonic() + max_seconds)
    if not total.attempts and not total.error:
        total.held = _held()
    record_outcome(total)
    return total


def _drain(total: PassResult, deadline: float) -> None:
    while time.monotonic() < deadline:
        batch = claim()
        if not batch:
            break
        result = send_batch(batch)
        total.sent += result.sent
        total.attempts += 1
        total.mismatches += result.mismatches
        total.squatted += result.squatted
        if result.error:
            total.error = result.error
            break


_last_ping = 0.0


def _answers_again() -> bool:
    global _last_ping
    if time.monotonic() - _last_ping < PING_EVERY:
        return False
    _last_ping = time.monotonic()
    try:
        remote.ping(seconds=PING_SECONDS)
    except remote.RemoteError:
        return False
    return True


def _held() -> str:
    live = [c for c in claims.claimants() if c.alive]
    if not live:
        return ""
    return "; ".join(f"{c.rows} document(s) being sent by {c.describe()}" for c in live)


def record_outcome(result: PassResult, now: datetime | None = None) -> None:
    """Back-off and last success/error: a conditional UPDATE of these fields only, never a
    save of a row read earlier (that would put back a stale heartbeat counter)."""
    now = now or timezone.now()
    state = SyncState.objects.filter(pk=SyncState.get().pk)
    if result.error:
        with transaction.atomic():
            state.update(failures=F("failures") + 1)
            failures = state.values_list("failures", flat=True)[0]
            delay = min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX)
            state.update(
                next_attempt_at=now + timedelta(seconds=delay),
                last_error=result.error[:2000],
                last_error_at=now,
            )
        logger.warning(
            "sync failed (%d in a row, next try in %d s): %s", failures, delay, result.error
        )
    elif result.attempts:
        state.update(failures=0, next_attempt_at=None, last_success_at=now)
