"""The outbox: each fact's signed document in the fact's own transaction."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import transaction

from audit import log
from audit.models import AuditEvent
from crimebox import outbox
from crimebox.signature import canonical, from_body, verify
from recordings import gaps, holds, retention
from recordings.evidence import integrity
from recordings.evidence.signing import ensure_signing_key
from recordings.models import Segment
from sync.models import OutboxItem
from tests.factories import make_camera, make_segment, make_segments

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def docs(kind=None):
    items = OutboxItem.objects.order_by("id")
    if kind:
        items = items.filter(kind=kind)
    return [from_body(i.body) for i in items]


@pytest.mark.django_db
def test_closed_segment_document_is_signed_and_names_the_chain():
    camera = make_camera()
    segment = make_segment(camera, T0)
    (doc,) = docs("segment")
    assert doc["_id"] == f"test-box:segment:{camera.pk}:1"
    assert doc["sha256"] == segment.sha256 and doc["chain_hash"] == segment.chain_hash
    assert doc["prev_chain_hash"] == "0" * 64 and doc["box"] == "test-box" and doc["schema"] == 2
    assert doc["start"] == T0 and doc["start_exact"] == "2026-11-24T14:00:00.000000Z"
    assert isinstance(doc["duration_ms"], int) and doc["status"] == "complete"
    key = ensure_signing_key()
    assert doc["sig"]["key"] == key.fingerprint
    assert verify(doc, key.private_key.public_key())
    assert not verify({**doc, "sha256": "0" * 64}, key.private_key.public_key())


@pytest.mark.django_db
def test_fact_and_document_roll_back_together():
    camera = make_camera()
    with pytest.raises(RuntimeError), transaction.atomic():
        log.record(AuditEvent.Action.SYSTEM, username="x", camera=camera)
        assert OutboxItem.objects.filter(kind="audit").count() == 1
        raise RuntimeError("crash after the fact")
    assert not AuditEvent.objects.exists() and not OutboxItem.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_report_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="outside its transaction"):
        outbox.report(outbox.AUDIT, None)


@pytest.mark.django_db
def test_audit_entry_document_carries_its_chain_hash():
    event = log.record(AuditEvent.Action.LOGIN, username="alice", detail={"ratio": 0.5})
    (doc,) = docs("audit")
    assert doc["_id"] == "test-box:audit:1" and doc["hash"] == event.hash
    assert doc["detail"] == {"ratio": "0.5"}  # no floats in a signed document


@pytest.mark.django_db
def test_later_segment_facts_are_new_documents(tmp_path):
    camera = make_camera()
    segment = make_segment(camera, T0)
    hold = holds.place_hold(camera, T0, T0 + timedelta(minutes=1), "case 1")
    holds.release_hold(hold, "done")
    segment.abs_path.unlink()
    integrity.verify_segments()
    events = [d["event"] for d in docs("segment_event")]
    assert events == ["hold_on", "hold_off", "missing"]
    assert docs("segment")[0]["status"] == "complete"  # never edited
    (check,) = docs("integrity_check")
    assert check["ok"] is False and check["checked"] == 1


@pytest.mark.django_db
def test_corrupt_and_retention_documents():
    camera = make_camera()
    a = make_segment(camera, T0)
    b = make_segment(camera, T0 + timedelta(seconds=4))
    with open(a.abs_path, "r+b") as f:
        f.seek(100)
        f.write(b"X")
    integrity.verify_segments()
    retention._delete(Segment.objects.get(pk=b.pk), "older than 30 days", T0)
    events = {d["event"]: d for d in docs("segment_event")}
    assert set(events) == {"corrupt", "deleted"}
    assert events["deleted"]["sha256"] == b.sha256


@pytest.mark.django_db
def test_gap_opened_and_closed():
    camera = make_camera()
    gap = gaps.open_gap(camera, "unreachable", "connection refused", T0)
    gaps.close_gaps(camera, T0 + timedelta(seconds=30))
    opened, closed = docs("gap_opened"), docs("gap_closed")
    assert opened[0]["_id"] == f"test-box:gap_opened:{gap.pk}" and opened[0]["end"] is None
    assert closed[0]["end"] == T0 + timedelta(seconds=30) and closed[0]["duration_ms"] == 30000


@pytest.mark.django_db
def test_same_document_twice_is_stored_once():
    from sync.documents import base
    from sync.outbox import add

    with transaction.atomic():
        add(base("heartbeat", "x", time=T0))
        add(base("heartbeat", "x", time=T0))
    assert OutboxItem.objects.count() == 1


def test_canonical_encoding_is_sorted_compact_json_with_dates():
    doc = {"b": 1, "a": "é", "t": T0, "sig": {"x": 1}}
    assert canonical(doc) == '{"a":"é","b":1,"t":{"$date":"2026-11-24T14:00:00.000Z"}}'.encode()
    with pytest.raises(TypeError):
        canonical({"x": 1.5})
    assert json.loads(canonical(doc))  # plain JSON


def test_canonical_dates_are_utc_milliseconds_whatever_their_zone_or_nesting():
    chicago = timezone(timedelta(hours=-6))
    doc = {
        "aware": datetime(2026, 11, 24, 8, 0, 0, 999999, tzinfo=chicago),
        "naive": datetime(2026, 11, 24, 14, 0, 0, 1500),  # as pymongo hands back UTC
        "nested": {"list": [True, None, (1, "x")], "t": T0 + timedelta(microseconds=123456)},
    }
    assert canonical(doc) == (
        b'{"aware":{"$date":"2026-11-24T14:00:00.999Z"},'
        b'"naive":{"$date":"2026-11-24T14:00:00.001Z"},'
        b'"nested":{"list":[true,null,[1,"x"]],"t":{"$date":"2026-11-24T14:00:00.123Z"}}}'
    )
    with pytest.raises(TypeError):
        canonical({"nested": [{"x": 0.5}]})


@pytest.mark.django_db
def test_one_send_is_queued_per_transaction(settings, django_capture_on_commit_callbacks):
    from sync.documents import base
    from sync.outbox import add

    settings.RTCC_URI = "mongodb://127.0.0.1:1/"
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for i in range(50):
            add(base("heartbeat", str(i), time=T0))
    assert len(callbacks) == 1
    settings.RTCC_URI = ""
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        add(base("heartbeat", "off", time=T0))
    assert callbacks == []  # replication off: nothing to send


@pytest.mark.django_db
def test_clock_step_gap_and_flagged_segments_are_documents():
    camera = make_camera()
    segment = make_segment(camera, T0)
    gaps.record_clock_step(camera, -3600, T0 - timedelta(minutes=30))
    (flagged,) = docs("segment_event")
    assert flagged["event"] == "clock_flagged" and flagged["sha256"] == segment.sha256
    assert docs("gap_closed")[0]["cause"] == "clock_step"


@pytest.mark.django_db
def test_a_hold_over_many_segments_writes_one_event_each_in_bulk(django_assert_max_num_queries):
    camera = make_camera()
    rows = [
        Segment(
            camera=camera,
            sequence=i + 1,
            start=T0 + timedelta(minutes=15 * i),
            end=T0 + timedelta(minutes=15 * (i + 1)),
            duration=900,
            size=1,
            path=f"p{i}",
            sha256="a" * 64,
            chain_hash=f"{i:064x}",
            hashed_at=T0,
        )
        for i in range(1200)
    ]
    Segment.objects.bulk_create(rows)
    # Not a query (or three) per segment: per 500 documents a look-up, an INSERT and an UPDATE
    # that writes the bodies signed with their numbers (the row ids).
    with django_assert_max_num_queries(50):
        holds.place_hold(camera, T0, T0 + timedelta(minutes=15 * 1200), "case 9")
    events = OutboxItem.objects.filter(kind="segment_event")
    assert events.count() == 1200
    assert {from_body(b)["event"] for b in events.values_list("body", flat=True)} == {"hold_on"}


@pytest.mark.django_db
def test_every_document_carries_its_number_in_commit_order_without_holes():
    """`n` (schema 2) is the outbox row's id: the console reads {box, n > last} and flags a
    number that never arrives. A document already there takes no number."""
    from sync.documents import base
    from sync.outbox import add, add_many

    camera = make_camera()
    make_segments(camera, T0, 3)
    with transaction.atomic():
        log.record(AuditEvent.Action.SYSTEM, username="x", camera=camera)
        add(base("heartbeat", "x", time=T0))
        add(base("heartbeat", "x", time=T0))  # the same document: no second number
        add_many([base("heartbeat", str(i), time=T0) for i in range(3)])
        add_many([base("heartbeat", "1", time=T0), base("heartbeat", "9", time=T0)])
    holds.place_hold(camera, T0, T0 + timedelta(minutes=1), "case 9")  # bulk events
    rows = list(OutboxItem.objects.order_by("id"))
    numbers = [from_body(row.body)["n"] for row in rows]
    assert numbers == [row.pk for row in rows]
    assert numbers == list(range(numbers[0], numbers[0] + len(rows)))  # no hole
    assert [r.kind for r in rows].count("heartbeat") == 1 + 3 + 1
    assert [r.kind for r in rows].count("segment_event") == 3
    key = ensure_signing_key().private_key.public_key()
    assert all(verify(from_body(row.body), key) for row in rows)  # `n` is signed too
    assert all(from_body(row.body)["schema"] == 2 for row in rows)


@pytest.mark.django_db
def test_a_camera_returning_to_an_earlier_state_gets_a_new_document_kept_by_prune(settings):
    """A camera's document _id counts its earlier documents in the outbox: `<revision>` the first
    time, `<revision>:<k>` on the k-th return. Delivered ones outlive pruning, or the count would
    restart and the next return reuse an _id the datacenter already holds."""
    from sync.outbox import prune

    camera = make_camera("North")

    def place(location: str) -> None:
        with transaction.atomic():
            camera.location = location
            camera.save()
            outbox.report(outbox.CAMERA, camera)

    for location in ("A", "B", "A", "A", "B", "A"):
        place(location)
    written = docs("camera")
    a, b = written[0]["revision"], written[1]["revision"]
    assert [d["_id"].split(":", 2)[2] for d in written] == [
        f"{camera.pk}:{a}",
        f"{camera.pk}:{b}",
        f"{camera.pk}:{a}:1",
        f"{camera.pk}:{b}:1",
        f"{camera.pk}:{a}:2",
    ]
    OutboxItem.objects.update(
        state=OutboxItem.State.SENT,
        created_at=datetime.now(UTC) - timedelta(days=settings.OUTBOX_SENT_KEEP_DAYS + 1),
    )
    prune()
    assert len(docs("camera")) == 5
    place("B")
    assert docs("camera")[-1]["_id"].endswith(f":{camera.pk}:{b}:2")


@pytest.mark.django_db(transaction=True)
def test_the_registration_report_reads_cameras_and_outbox_in_its_writing_transaction(monkeypatch):
    """The re-report of every camera at registration builds each camera document from the
    outbox's last one: read outside the (IMMEDIATE) transaction that writes it, a camera change
    committed in between would make it queue the old state again after the new one."""
    from django.db import connection

    from sync import documents, sender

    make_camera("North")
    seen = []
    real = documents.camera_key
    monkeypatch.setattr(
        documents, "camera_key", lambda *a: seen.append(connection.in_atomic_block) or real(*a)
    )
    sender.ensure_registration()
    sender.ensure_registration()
    assert seen == [True, True] and len(docs("camera")) == 1
