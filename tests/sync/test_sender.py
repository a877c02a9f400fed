"""Sending to a real MongoDB-protocol server (FerretDB): outages, duplicates, tampering."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from audit import log
from audit.models import AuditEvent
from crimebox.signature import from_body
from recordings.health import health_status
from sync import sender
from sync.models import OutboxItem, SyncLog, SyncState
from tests.factories import make_camera, make_segment

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def facts(camera, n=3, start=T0):
    for i in range(n):
        make_segment(camera, start + timedelta(seconds=4 * i))
        log.record(AuditEvent.Action.VIEW, username="alice", camera=camera)


def remote_ids(db) -> list[str]:
    ids = []
    for name in db.list_collection_names():
        ids += [d["_id"] for d in db[name].find({}, {"_id": 1})]
    return ids


@pytest.mark.django_db
def test_outage_then_every_document_exactly_once(rtcc, rtcc_db):
    camera = make_camera()
    facts(camera, 2)
    rtcc.stop()
    result = sender.send_pending()
    assert result.error and result.sent == 0
    assert OutboxItem.objects.pending().count() == OutboxItem.objects.count()
    state = SyncState.get()
    assert state.failures == 1 and state.next_attempt_at > datetime.now(UTC)
    assert sender.send_pending().skipped.startswith("backing off")  # no hammering
    facts(camera, 2, start=T0 + timedelta(minutes=1))  # life goes on while it is down
    assert SyncLog.objects.filter(result="failed").exists()
    rtcc.start()
    result = sender.send_pending(force=True)
    assert result.ok, result.error
    local = set(OutboxItem.objects.values_list("doc_id", flat=True))
    ids = remote_ids(rtcc_db)
    assert len(ids) == len(set(ids)) == len(local) and set(ids) == local
    assert not OutboxItem.objects.pending().exists()
    assert SyncState.get().failures == 0
    # A second pass sends nothing and duplicates nothing.
    assert sender.send_pending(force=True).sent == 0
    assert len(remote_ids(rtcc_db)) == len(local)


@pytest.mark.django_db
def test_segment_document_is_readable_at_the_datacenter(rtcc, rtcc_db):
    camera = make_camera()
    segment = make_segment(camera, T0)
    sender.send_pending()
    doc = rtcc_db.segments.find_one({"sha256": segment.sha256})
    assert doc["chain_hash"] == segment.chain_hash and doc["start"] == T0
    assert rtcc_db.boxes.find_one({"box": "test-box"})["public_key_pem"].startswith("-----BEGIN")


@pytest.mark.django_db
def test_already_delivered_copy_is_compared_and_marked_delivered(rtcc, rtcc_db):
    camera = make_camera()
    make_segment(camera, T0)
    item = OutboxItem.objects.get(kind="segment")
    rtcc_db.segments.insert_one(from_body(item.body))  # a pass that died before marking it
    assert sender.send_pending().ok
    item.refresh_from_db()
    assert item.state == OutboxItem.State.SENT


@pytest.mark.django_db
def test_a_different_copy_signed_by_the_box_is_an_integrity_alarm(rtcc, rtcc_db):
    """The box itself once sent another version of this fact (its key signed both): the
    datacenter's copy is never overwritten, the row is 'Different at the datacenter'."""
    from crimebox.signature import sign
    from sync.outbox import signing_key

    camera = make_camera()
    make_segment(camera, T0)
    item = OutboxItem.objects.get(kind="segment")
    other = sign({**from_body(item.body), "sha256": "f" * 64}, signing_key())
    rtcc_db.segments.insert_one(other)
    result = sender.send_pending()
    assert result.mismatches == 1 and not result.ok
    item.refresh_from_db()
    assert item.state == OutboxItem.State.MISMATCH
    assert rtcc_db.segments.find_one({"_id": item.doc_id})["sha256"] == "f" * 64
    health = health_status()
    assert health["status"] == "critical"
    assert any(item.doc_id in a for a in health["alarms"])
    alarm = AuditEvent.objects.get(username="sync")
    assert alarm.detail["_id"] == item.doc_id
    assert SyncLog.objects.filter(result="mismatch").exists()


@pytest.mark.django_db
def test_a_squatted_id_still_gets_the_box_fact_under_its_alternate_id(rtcc, rtcc_db):
    """A document the box's key did not sign, planted (or altered) under the box's next _id:
    the box's document goes to <_id>~1, one alarm names the squatting, nothing overwritten."""
    from crimebox.signature import verify
    from sync.outbox import signing_key

    camera = make_camera()
    make_segment(camera, T0)
    item = OutboxItem.objects.get(kind="segment")
    rtcc_db.segments.insert_one({**from_body(item.body), "sha256": "f" * 64})
    result = sender.send_pending()
    assert result.squatted == 1 and not result.ok
    item.refresh_from_db()
    assert item.state == OutboxItem.State.SENT and f"{item.doc_id}~1" in item.last_error
    assert rtcc_db.segments.find_one({"_id": item.doc_id})["sha256"] == "f" * 64
    theirs = rtcc_db.segments.find_one({"_id": f"{item.doc_id}~1"})
    assert theirs["sha256"] == from_body(item.body)["sha256"]
    assert verify(theirs, signing_key().public_key)
    health = health_status()
    assert health["status"] == "critical"
    assert any(item.doc_id in a and "planted" in a for a in health["alarms"])
    alarm = AuditEvent.objects.get(username="sync")
    assert alarm.detail["_id"] == item.doc_id and "~1" in alarm.detail["ids"][item.doc_id]
    # The alarm's own document reached the datacenter; a second pass changes nothing.
    assert sender.send_pending().ok
    assert AuditEvent.objects.filter(username="sync").count() == 1
    assert rtcc_db.segments.count_documents({}) == 2


@pytest.mark.django_db
def test_planted_future_ids_make_one_alarm_not_a_loop(rtcc, rtcc_db):
    """Documents planted at the box's next audit _ids: the alarm's own document lands on a
    planted id too, and that causes no further alarm (once 18,821 entries in 90 s)."""
    camera = make_camera()
    make_segment(camera, T0)
    next_audit = AuditEvent.objects.count() + 1
    for sequence in range(next_audit, next_audit + 60):
        rtcc_db.audit.insert_one({"_id": f"test-box:audit:{sequence}", "box": "test-box"})
    item = OutboxItem.objects.get(kind="segment")
    rtcc_db.segments.insert_one({"_id": item.doc_id, "box": "test-box", "planted": True})
    for _ in range(5):
        sender.send_pending(force=True)
    alarms = AuditEvent.objects.filter(username="sync")
    assert alarms.count() == 1
    assert not OutboxItem.objects.pending().exists()
    alarm_doc = f"test-box:audit:{alarms.get().sequence}"
    assert rtcc_db.audit.find_one({"_id": f"{alarm_doc}~1"})["username"] == "sync"


@pytest.mark.django_db
def test_two_senders_never_claim_the_same_rows():
    camera = make_camera()
    facts(camera, 2)
    first = sender.claim(limit=3)
    second = sender.claim(limit=100)
    assert len(first) == 3 and second
    assert not {i.pk for i in first} & {i.pk for i in second}
    assert sender.claim() == []
    # A claim older than the lease (its worker was killed) is taken over.
    later = sender.claim(now=datetime.now(UTC) + sender.LEASE + timedelta(seconds=1))
    assert {i.pk for i in later} == {i.pk for i in first + second}


@pytest.mark.django_db
def test_backoff_doubles_and_is_capped():
    state = SyncState.get()
    now = datetime.now(UTC)
    delays = []
    for _ in range(10):
        sender.record_outcome(sender.PassResult(attempts=1, error="down"), now=now)
        delays.append((SyncState.get().next_attempt_at - now).total_seconds())
    assert delays[:4] == [5, 10, 20, 40] and max(delays) == sender.BACKOFF_MAX
    sender.record_outcome(sender.PassResult(attempts=1), now=now)
    state.refresh_from_db()
    assert state.failures == 0 and state.next_attempt_at is None


@pytest.mark.django_db
def test_replication_off_keeps_the_outbox_filling(settings):
    settings.RTCC_URI = settings.RTCC_URI_FILE = ""
    make_segment(make_camera(), T0)
    assert sender.send_pending().skipped.startswith("replication is off")
    assert OutboxItem.objects.pending().filter(kind="segment").count() == 1
    assert health_status()["replication"]["configured"] is False


@pytest.mark.django_db
def test_old_backlog_is_a_warning(settings, rtcc):
    rtcc.stop()
    with transaction.atomic():
        log.record(AuditEvent.Action.SYSTEM, username="x")
    OutboxItem.objects.update(created_at=datetime.now(UTC) - timedelta(hours=2))
    health = health_status()
    assert health["status"] == "warning"
    assert any("Replication backlog" in w for w in health["warnings"])
    assert health["replication"]["backlog_by_kind"] == {"audit": 1}


@pytest.mark.django_db
def test_a_document_bson_cannot_hold_does_not_hold_up_the_others(rtcc, rtcc_db):
    from sync.documents import base
    from sync.outbox import add

    with transaction.atomic():
        add(base("heartbeat", "good:1", n=1))
        add(base("heartbeat", "bad:1", detail={"a\x00b": 1}))  # a NUL in a key
        add(base("heartbeat", "good:2", n=2))
    result = sender.send_pending()
    assert result.sent == 3 and "cannot be encoded as BSON" in result.error  # boxes + 2 good
    bad = OutboxItem.objects.get(doc_id="test-box:heartbeat:bad:1")
    assert bad.state == OutboxItem.State.PENDING and "BSON" in bad.last_error
    assert rtcc_db.heartbeats.count_documents({}) == 2


@pytest.mark.django_db
def test_an_outbox_over_its_limit_is_a_warning_and_keeps_every_fact(settings, rtcc):
    """Heartbeats are dropped to keep under CRIMEBOX_OUTBOX_MAX_MB; facts never are, so an
    outbox still over the limit is said in the health, with nothing lost."""
    from sync.outbox import prune

    rtcc.stop()
    make_segment(make_camera(), T0)
    assert "outbox holds" not in " ".join(health_status()["warnings"])
    settings.OUTBOX_MAX_MB = 0
    pending = OutboxItem.objects.pending().count()
    prune()
    assert OutboxItem.objects.pending().exclude(kind="heartbeat").count() == pending
    assert any("over its 0 MB limit" in w for w in health_status()["warnings"])
