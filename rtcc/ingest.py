"""The ingest: the boxes' new ledger documents into the console's read models, exactly once.

Each box numbers its documents (`n`, docs/sync.md); a pass reads, per box and collection,
`{box, n > cursor}` sorted by `n`, merges the collections in number order and applies the
documents in chunks: the rows and the advanced cursors commit in one SQL transaction, so a
killed ingest re-reads exactly what it had not committed. Reading (network) happens before the
transaction; a document that breaks its own write is rolled back to its savepoint and recorded
as malformed, so no document can stop the ingest (never a crash loop).

Numbers count only once a document is trusted: well-formed and signed by the box's enrolled
key (a `boxes` document: presenting that key). Anything else (malformed, a bad signature, a key
that is not enrolled, another box's name) still moves its collection's cursor, so it is read
once, but never the box's numbering: a stranger's document claiming n = 10**6 cannot push the
box's count past its real documents. A pending box's documents are counted when they are
released after enrolment, its `boxes` document (BoxKey.n) at the same time.

A counted number above the highest so far opens a MissingRange for the numbers skipped; a
number that falls in an open range fills it (the box's sender inserts a batch one collection at
a time, so a pass can read heartbeat k after segment k+1): it is applied once, as late. Any
other number already counted is a conflict, "used twice". Open ranges are re-checked each pass
for numbers inserted after a later number of their own collection had been read (the cursor
has passed them); what the cursor has not passed is left to the stream. A range is closed by
the box's own `dropped` declaration, or after RTCC_HOLE_GRACE_MINUTES reported as an integrity
alert.
"""

import heapq
import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import alerts, apply, fleet, trust
from .documents import malformed
from .ledger import COLLECTIONS, Ledger, LedgerError
from .models import Alert, Box, BoxKey, HeldDocument, IngestState, IntegrityProblem, MissingRange
from .verifier import VERIFIER

logger = logging.getLogger(__name__)

# Documents per SQL transaction: at 1,000 the per-chunk work (the box row read and written, its
# cameras, the commit) is ~2 % of a chunk's time (bench/rtcc.py); the next chunk is read meanwhile.
CHUNK = 1000
HOLES_PER_PASS = 3  # open ranges of a box re-checked per pass


@dataclass
class PassResult:
    boxes: int = 0
    documents: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def tick(ledger: Ledger | None = None, now: datetime | None = None) -> PassResult:
    """One pass over every box. MongoDB unreachable: the error is on IngestState (pages say how
    stale they are) and the fleet is not judged from what could not be read."""
    now = now or timezone.now()
    result = PassResult()
    if settings.RTCC_VERIFY_WORKER:
        VERIFIER.start()  # here, on the main thread: see Verifier.start
    try:
        ledger = ledger or Ledger()
        for box_id in ledger.box_ids():
            if not box_id or len(box_id) > 100:
                continue
            box, _ = Box.objects.get_or_create(box_id=box_id, defaults={"first_seen_at": now})
            result.documents += ingest_box(ledger, box, now)
            result.boxes += 1
    except LedgerError as e:
        result.error = str(e)
    report_overdue(now)
    if result.ok:
        fleet.evaluate_all(now)
    _record(result, now)
    alerts.notify_due(now)
    return result


def _record(result: PassResult, now: datetime) -> None:
    state = IngestState.get()
    state.last_pass_at = now
    if result.ok:
        if state.last_error:
            logger.info("ingest: the ledger answers again")
        state.last_ok_at, state.last_error = now, ""
    else:
        if result.error != state.last_error:
            logger.error("ingest: %s", result.error)
        state.last_error, state.last_error_at = result.error[:2000], now
    state.documents += result.documents
    state.save()


def ingest_box(ledger: Ledger, box: Box, now: datetime) -> int:
    done = release_held(ledger, box, now)
    stream = merged(ledger, box.box_id, dict(box.cursors), settings.RTCC_BATCH)
    # The key the worker checks with, and its fingerprint: its answers count only while that
    # key is still the enrolled one when a chunk's transaction re-reads the box (Checked).
    key = trust.raw_key(box) if settings.RTCC_VERIFY_WORKER else None
    signer = box.fingerprint

    def read() -> tuple[list[tuple[str, dict]], Future | None]:
        chunk = _take(stream, CHUNK)
        return chunk, VERIFIER.submit(key, [d for _, d in chunk]) if key else None

    # The next chunk is read on a thread while this one is written: MongoDB's and the network's
    # time overlaps ours instead of adding to it, and its signatures are checked meanwhile in
    # the verification worker. The first chunk is verified here: waiting for the worker would
    # leave this thread idle (measured). One read at a time, and only the main thread touches
    # the SQL database; a LedgerError comes out of result().
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-read") as reader:
        chunk, checking = _take(stream, CHUNK), None
        while chunk:
            following = reader.submit(read)
            checked = Checked(signer, VERIFIER.answers(checking))
            try:
                apply_chunk(box, chunk, now, bulk=True, checked=checked)
            except Exception:  # one document broke the fast path: again, one savepoint each
                logger.warning("ingest: box %s: a chunk is applied document by document", box)
                apply_chunk(box, chunk, now, bulk=False, checked=checked)
            done += len(chunk)
            chunk, checking = following.result()
    return done + recheck_holes(ledger, box, now)


@dataclass
class Checked:
    """The worker's answers for a chunk, in its order, and the key they were checked with."""

    fingerprint: str
    answers: list[bool | None] | None

    def valid(self, box: Box, size: int) -> list[bool | None]:
        """The answers if they still apply (the box's enrolled key unchanged), else none."""
        enrolled = box.enrolment == Box.Enrolment.ENROLLED
        if self.answers and enrolled and box.fingerprint == self.fingerprint:
            return self.answers
        return [None] * size


def apply_chunk(
    box: Box,
    chunk: list[tuple[str, dict]],
    now: datetime,
    bulk: bool,
    checked: Checked | None = None,
) -> None:
    """The rows of a chunk and the box's advanced cursors, in one transaction."""
    with transaction.atomic():
        lock(box)
        answers = checked.valid(box, len(chunk)) if checked else [None] * len(chunk)
        batch = apply.Batch(box, bulk)
        for (name, doc), good in zip(chunk, answers, strict=True):
            ingest_one(batch, name, doc, now, good)
        batch.flush()
        box.save()


def lock(box: Box) -> None:
    """Re-read the box's row and hold it until the transaction ends (call inside one). The
    transaction ends with a full `box.save()`: on SQLite, `BEGIN IMMEDIATE` already keeps any
    other writer out between the read and the save, but PostgreSQL's READ COMMITTED does not,
    and an operator's enrol or revoke committed in between would be written back over by the
    ingest's stale copy. The row lock makes that operator wait for this transaction instead."""
    box.refresh_from_db(from_queryset=Box.objects.select_for_update())


def _take(stream: Iterator[tuple[str, dict]], count: int) -> list[tuple[str, dict]]:
    """Up to `count` documents, read before any transaction opens."""
    out = []
    for item in stream:
        out.append(item)
        if len(out) == count:
            break
    return out


def _n(value: object) -> float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def merged(ledger: Ledger, box_id: str, cursors: dict, limit: int) -> Iterator[tuple[str, dict]]:
    """A box's documents of every collection after `cursors`, in number order. Each collection
    is read up to `limit` documents; where one stops with more to come, the merge stops at that
    number (what lies beyond it is read next pass, in order)."""

    def one(name: str) -> Iterator[tuple[float, int, str, dict | None]]:
        count, last = 0, 0.0
        for doc in ledger.after(name, box_id, cursors.get(name, 0), limit):
            count, last = count + 1, _n(doc.get("n"))
            yield last, 0, name, doc
        if count >= limit:
            yield last, 1, name, None

    for _, stop, name, doc in heapq.merge(*(one(c) for c in COLLECTIONS), key=lambda t: t[:2]):
        if stop or doc is None:
            return
        yield name, doc


def ingest_one(
    batch: apply.Batch, name: str, doc: dict, now: datetime, good: bool | None = None
) -> None:
    """One new document, inside the chunk's transaction (`good`: the worker's answer)."""
    box, n = batch.box, doc.get("n")
    if isinstance(n, int | float) and not isinstance(n, bool):
        box.cursors[name] = max(box.cursors.get(name, 0), n)
    guarded(batch, name, doc, now, good)


def guarded(
    batch: apply.Batch, name: str, doc: dict, now: datetime, good: bool | None = None
) -> None:
    """handle() — in bulk, straight; otherwise in its own savepoint: whatever one document
    does wrong, the others go on. Its number is counted outside the savepoint: a trusted
    document whose rows could not be written still arrived. `good`: whether its signature
    verifies with the enrolled key, when the worker checked it (None: verify here)."""
    box = batch.box
    box.documents += 1
    verdict = judge(box, name, doc, good)
    late = _count(box, doc["n"], doc, now) if verdict is trust.Verdict.TRUSTED else False
    if batch.bulk:
        handle(batch, name, doc, now, verdict, late)
        return
    try:
        with transaction.atomic():
            handle(batch, name, doc, now, verdict, late)
    except Exception as e:  # a poison document must never stop the ingest (a crash loop)
        logger.exception("ingest: document %r could not be stored", str(doc.get("_id"))[:300])
        alerts.problem(
            IntegrityProblem.Kind.MALFORMED, box, f"could not be stored: {e!r}", doc=doc, now=now
        )


def judge(box: Box, name: str, doc: dict, good: bool | None = None) -> trust.Verdict | None:
    """None for a malformed document; for a `boxes` document TRUSTED when it presents the
    enrolled key, BAD when its key does not check, HELD otherwise; else trust.verdict()."""
    if malformed(doc, name, box.box_id):
        return None
    if doc["kind"] != "box":
        return trust.verdict(doc, box, good)
    if trust.key_problem(doc):
        return trust.Verdict.BAD
    enrolled = box.enrolment == Box.Enrolment.ENROLLED and doc["fingerprint"] == box.fingerprint
    return trust.Verdict.TRUSTED if enrolled else trust.Verdict.HELD


def _count(box: Box, n: int, doc: dict | None, now: datetime) -> bool:
    """A trusted number: a hole below it opens a MissingRange; one that falls in an open range
    fills it (True: it arrived late); any other number already counted is a conflict."""
    if n > box.last_n:
        if n > box.last_n + 1:
            MissingRange.objects.create(box=box, first=box.last_n + 1, last=n - 1, noticed_at=now)
        box.last_n = n
        return False
    if fill(box, n, now):
        return True
    alerts.problem(IntegrityProblem.Kind.CONFLICT, box, f"number {n} used twice", doc=doc, now=now)
    return False


def handle(
    batch: apply.Batch,
    name: str,
    doc: dict,
    now: datetime,
    verdict: trust.Verdict | None,
    late: bool = False,
) -> None:
    box = batch.box
    if verdict is None:
        problem = malformed(doc, name, box.box_id)
        kind = IntegrityProblem.Kind.FORGED_BOX if "claims box" in problem else "malformed"
        alerts.problem(kind, box, problem, doc=doc, now=now)
        return
    if doc["kind"] == "box":
        register(box, doc, now)
        return
    if verdict is trust.Verdict.HELD:
        hold(box, name, doc, now)
    elif verdict is trust.Verdict.BAD:
        bad_signature(batch, doc, now)
    elif doc["kind"] == "dropped":
        declare_dropped(box, doc, now)
    else:
        apply.apply(batch, doc, now, late)


def bad_signature(batch: apply.Batch, doc: dict, now: datetime) -> None:
    box = batch.box
    camera = batch.cameras.get(doc["camera_id"]) if "camera_id" in doc else None
    sequence = doc.get("sequence") if doc["kind"] in ("segment", "segment_event") else None
    alerts.problem(
        IntegrityProblem.Kind.BAD_SIGNATURE,
        box,
        f"the signature of this {doc['kind']} document does not verify with the enrolled key",
        doc=doc,
        camera=camera,
        sequence=sequence if isinstance(sequence, int) else None,
        now=now,
    )


def register(box: Box, doc: dict, now: datetime) -> None:
    if problem := trust.key_problem(doc):
        alerts.problem(IntegrityProblem.Kind.BAD_SIGNATURE, box, problem, doc=doc, now=now)
        return
    key, new = trust.register_key(box, doc, now)
    if key.fingerprint != box.fingerprint or box.enrolment != Box.Enrolment.ENROLLED:
        # counted if this key is enrolled (release_held)
        BoxKey.objects.filter(pk=key.pk, n=None).update(n=doc["n"])
    if box.enrolment == Box.Enrolment.ENROLLED and key.fingerprint != box.fingerprint:
        alerts.raise_alert(
            Alert.Kind.SECOND_KEY,
            box,
            f"Box {box.box_id} presents a second key {key.fingerprint} (enrolled: "
            f"{box.fingerprint}); its documents signed with it are held back",
            subject=key.fingerprint,
            now=now,
        )
    elif box.enrolment != Box.Enrolment.ENROLLED:
        alerts.raise_alert(
            Alert.Kind.UNENROLLED,
            box,
            f"Box {box.box_id} is waiting for enrolment, key fingerprint {key.fingerprint}",
            subject=key.fingerprint,
            now=now,
        )


def hold(box: Box, name: str, doc: dict, now: datetime) -> None:
    """Signed by a key that is not enrolled: kept by reference, never shown, checked later."""
    HeldDocument.objects.create(
        box=box,
        n=doc["n"],
        collection=name,
        doc_id=doc["_id"],
        fingerprint=doc["sig"]["key"][:64],
        held_at=now,
    )
    box.untrusted += 1
    other = Box.objects.exclude(pk=box.pk).filter(fingerprint=doc["sig"]["key"]).first()
    if other is not None:
        alerts.problem(
            IntegrityProblem.Kind.FORGED_BOX,
            box,
            f"signed with box {other.box_id}'s key",
            doc=doc,
            now=now,
        )


def release_held(ledger: Ledger, box: Box, now: datetime) -> int:
    """Once a key is enrolled, the documents held for it are verified like new ones, and the
    number of the `boxes` document that presented it is counted."""
    if box.enrolment != Box.Enrolment.ENROLLED:
        return 0
    _count_registration(box, now)
    done = 0
    while held := list(box.held.filter(fingerprint=box.fingerprint).order_by("n")[:CHUNK]):
        found: dict[str, dict] = {}
        for name in {h.collection for h in held}:
            ids = [h.doc_id for h in held if h.collection == name]
            found.update((d["_id"], d) for d in ledger.by_ids(name, ids))
        with transaction.atomic():
            lock(box)
            batch = apply.Batch(box, bulk=False)
            for row in held:
                _release(batch, row, found.get(row.doc_id), now)
            batch.flush()
            box.save()
        done += len(held)
    return done


def _count_registration(box: Box, now: datetime) -> None:
    key = box.keys.filter(fingerprint=box.fingerprint).exclude(n=None).first()
    if key is None or key.n is None:
        return
    with transaction.atomic():
        lock(box)
        _count(box, key.n, None, now)
        box.save()
        BoxKey.objects.filter(pk=key.pk).update(n=None)


def _release(batch: apply.Batch, row: HeldDocument, doc: dict | None, now: datetime) -> None:
    box = batch.box
    row.delete()
    box.untrusted = max(0, box.untrusted - 1)
    if doc is None:
        alerts.problem(
            IntegrityProblem.Kind.MISSING_NUMBER,
            box,
            f"document {row.doc_id} (n {row.n}) was in the ledger and is gone",
            now=now,
        )
        return
    guarded(batch, row.collection, doc, now)
    box.documents -= 1  # counted when it was held


def recheck_holes(ledger: Ledger, box: Box, now: datetime) -> int:
    """Numbers that were skipped may still arrive. One whose collection's cursor has not passed
    it is the stream's (it fills the hole when read); here only those inserted behind the
    cursor (a batch delivered out of order), trusted and not held for release."""
    done = 0
    open_ = box.missing.filter(state=MissingRange.State.OPEN).order_by("first")
    for hole in list(open_[:HOLES_PER_PASS]):
        late = [
            (name, doc)
            for name in COLLECTIONS
            if name != "boxes"  # a key's registration is counted through BoxKey.n
            for doc in ledger.numbered(name, box.box_id, hole.first, hole.last, CHUNK)
            if isinstance(doc.get("n"), int) and doc["n"] <= box.cursors.get(name, 0)
        ]
        held = set(
            box.held.filter(doc_id__in=[d.get("_id") for _, d in late]).values_list(
                "doc_id", flat=True
            )
        )
        late = [(name, doc) for name, doc in late if doc.get("_id") not in held]
        late.sort(key=lambda item: item[1]["n"])
        if not late:
            continue
        with transaction.atomic():
            lock(box)
            batch = apply.Batch(box, bulk=False)
            for name, doc in late:
                if _is_open(box, doc["n"]) and judge(box, name, doc) is trust.Verdict.TRUSTED:
                    guarded(batch, name, doc, now)
                    done += 1
            batch.flush()
            box.save()
    return done


def _is_open(box: Box, n: int) -> bool:
    return box.missing.filter(state=MissingRange.State.OPEN, first__lte=n, last__gte=n).exists()


def fill(box: Box, n: int, now: datetime) -> bool:
    """Take `n` out of the open range holding it; False when no open range holds it."""
    hole = box.missing.filter(state=MissingRange.State.OPEN, first__lte=n, last__gte=n).first()
    if hole is None:
        return False
    _split(hole, n, n, MissingRange.State.ARRIVED, now)
    return True


def declare_dropped(box: Box, doc: dict, now: datetime) -> None:
    """The box's own statement that these numbers (pruned heartbeats) will never come."""
    for declared in doc["numbers"]:
        first, last = declared["first"], declared["last"]
        overlapping = box.missing.filter(
            state=MissingRange.State.OPEN, first__lte=last, last__gte=first
        )
        for hole in list(overlapping):
            _split(hole, max(first, hole.first), min(last, hole.last), "declared", now)


def _split(hole: MissingRange, first: int, last: int, state: str, now: datetime) -> None:
    """hole's first..last closes as `state`; what is left of it on either side stays open."""
    for a, b in ((hole.first, first - 1), (last + 1, hole.last)):
        if a <= b:
            MissingRange.objects.create(
                box=hole.box,
                first=a,
                last=b,
                noticed_at=hole.noticed_at,
                reported_at=hole.reported_at,
            )
    hole.first, hole.last, hole.state, hole.closed_at = first, last, state, now
    hole.save()


def report_overdue(now: datetime) -> None:
    """Holes and unlinked segments past the grace period: integrity alerts (once each)."""
    before = now - timedelta(minutes=settings.RTCC_HOLE_GRACE_MINUTES)
    overdue = MissingRange.objects.filter(
        state=MissingRange.State.OPEN, reported_at=None, noticed_at__lt=before
    ).select_related("box")
    for hole in overdue[:500]:
        with transaction.atomic():
            alerts.problem(
                IntegrityProblem.Kind.MISSING_NUMBER,
                hole.box,
                f"documents n {hole.first}..{hole.last} never arrived while later ones did",
                now=now,
            )
            MissingRange.objects.filter(pk=hole.pk).update(reported_at=now)
    fleet.report_orphans(before, now)
