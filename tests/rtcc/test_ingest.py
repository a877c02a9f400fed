"""rtcc/ingest.py against a real MongoDB-protocol ledger (FerretDB)."""

from datetime import timedelta

import pytest

from rtcc import ingest
from rtcc.models import (
    Alert,
    Box,
    BoxKey,
    Camera,
    HeartbeatSample,
    HeldDocument,
    IngestState,
    IntegrityProblem,
    MissingRange,
    SegmentRecord,
)
from rtcc.trust import enrol

from .conftest import T0, LedgerBox

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_chunks")]


def enrolled_box(db, box_id="box-1") -> LedgerBox:
    box = LedgerBox(db, box_id)
    box.register()
    ingest.tick(now=T0)
    enrol(box_id, box.key.fingerprint)
    return box


def test_a_new_box_is_pending_with_its_fingerprint_and_its_documents_held(rtcc_ledger):
    box = LedgerBox(rtcc_ledger)
    box.register()
    box.camera()
    box.segment()
    box.heartbeat()
    result = ingest.tick(now=T0)
    assert result.ok and result.documents == 4
    row = Box.objects.get(box_id="box-1")
    assert row.enrolment == Box.Enrolment.PENDING and row.untrusted == 3
    assert BoxKey.objects.get().fingerprint == box.key.fingerprint
    assert HeldDocument.objects.count() == 3 and not SegmentRecord.objects.exists()
    (alert,) = Alert.objects.active()
    assert alert.kind == Alert.Kind.UNENROLLED and box.key.fingerprint in alert.message

    enrol("box-1", box.key.fingerprint)
    assert not Alert.objects.active().filter(kind=Alert.Kind.UNENROLLED).exists()
    ingest.tick(now=T0 + timedelta(seconds=5))  # the held documents, verified now
    assert not HeldDocument.objects.exists()
    segment = SegmentRecord.objects.get()
    assert segment.verification == "verified" and segment.camera.name == "North"
    assert Camera.objects.get().latitude is not None
    row.refresh_from_db()
    assert row.untrusted == 0 and row.last_contact_at == T0 + timedelta(seconds=5)
    assert HeartbeatSample.objects.count() == 1 and row.state == Box.State.RECORDING


def test_incremental_exactly_once_and_chains_checked_as_they_arrive(rtcc_ledger):
    box = enrolled_box(rtcc_ledger)
    box.camera()
    for _ in range(3):
        box.segment()
    ingest.tick(now=T0)
    ingest.tick(now=T0)  # nothing new: nothing twice
    assert SegmentRecord.objects.count() == 3
    box.segment()
    box.heartbeat()
    result = ingest.tick(now=T0)
    assert result.documents == 2
    assert list(SegmentRecord.objects.values_list("verification", flat=True)) == ["verified"] * 4
    camera = Camera.objects.get()
    assert camera.chain_sequence == 4
    row = Box.objects.get()
    assert row.last_n == box.n and row.cursors["segments"] == box.n - 1
    assert IngestState.get().documents == 1 + 1 + 3 + 2  # box doc, camera, segments, then 2


def test_batches_smaller_than_the_backlog_keep_number_order(rtcc_ledger, settings):
    settings.RTCC_BATCH = 3
    box = enrolled_box(rtcc_ledger)
    box.camera()
    for i in range(10):
        box.segment()
        if i % 3 == 0:
            box.heartbeat(time=T0 + timedelta(minutes=i))
    for _ in range(10):
        ingest.tick(now=T0)
    assert SegmentRecord.objects.count() == 10 and HeartbeatSample.objects.count() == 4
    assert not MissingRange.objects.exists()
    assert set(SegmentRecord.objects.values_list("verification", flat=True)) == {"verified"}


def test_a_hole_is_rechecked_filled_late_or_reported_after_the_grace(rtcc_ledger, settings):
    box = enrolled_box(rtcc_ledger)
    box.camera()
    late = box.segment_doc()  # n=3, not delivered yet
    box.segment()  # n=4: sequence 2 arrives before 1
    ingest.tick(now=T0)
    (hole,) = MissingRange.objects.filter(state="open")
    assert (hole.first, hole.last) == (late["n"], late["n"])
    assert SegmentRecord.objects.get().verification == "unlinked"
    box.put("segments", late)  # delivered late
    ingest.tick(now=T0)
    hole.refresh_from_db()
    assert hole.state == "arrived"
    assert set(SegmentRecord.objects.values_list("verification", flat=True)) == {"verified"}

    lost = box.segment_doc()  # never delivered
    box.segment()
    ingest.tick(now=T0)
    assert not IntegrityProblem.objects.exists()
    ingest.tick(now=T0 + timedelta(minutes=settings.RTCC_HOLE_GRACE_MINUTES + 1))
    kinds = set(IntegrityProblem.objects.values_list("kind", flat=True))
    assert kinds == {"missing_number", "missing_sequence"}
    seq = IntegrityProblem.objects.get(kind="missing_sequence")
    assert seq.sequence == lost["sequence"] and seq.camera.name == "North"
    assert seq.doc_id == f"box-1:segment:1:{lost['sequence'] + 1}"
    assert Alert.objects.active().filter(kind=Alert.Kind.INTEGRITY).count() == 2


def test_dropped_heartbeats_declared_by_the_box_close_their_hole(rtcc_ledger, settings):
    box = enrolled_box(rtcc_ledger)
    box.n += 3  # numbers 2..4: heartbeats the box pruned undelivered
    box.put(
        "dropped",
        box.doc(
            "dropped",
            "2-4:x",
            dropped_kind="heartbeat",
            numbers=[{"first": 2, "last": 4}],
            count=3,
            reason="older than HEARTBEAT_KEEP_DAYS",
            at=T0,
        ),
    )
    ingest.tick(now=T0)
    ingest.tick(now=T0 + timedelta(minutes=settings.RTCC_HOLE_GRACE_MINUTES + 1))
    assert list(MissingRange.objects.values_list("first", "last", "state")) == [(2, 4, "declared")]
    assert not IntegrityProblem.objects.exists()


def test_a_number_read_after_a_later_one_of_another_collection_is_applied_once(rtcc_ledger):
    """The box's sender inserts a batch one collection at a time: a pass can read segment k+1
    before heartbeat k lands."""
    box = enrolled_box(rtcc_ledger)
    box.camera()
    box.segment()
    held_back = {}
    real_put = box.put
    box.put = lambda collection, doc: held_back.setdefault("heartbeat", (collection, doc))
    box.heartbeat()
    box.put = real_put
    box.segment()
    ingest.tick(now=T0)
    (hole,) = MissingRange.objects.filter(state="open")
    real_put(*held_back["heartbeat"])
    ingest.tick(now=T0)
    ingest.tick(now=T0)
    hole.refresh_from_db()
    assert hole.state == "arrived"
    assert HeartbeatSample.objects.count() == 1
    assert not IntegrityProblem.objects.exists() and not Alert.objects.active().exists()
    assert Box.objects.get().documents == box.n


def test_a_number_used_twice_is_still_a_conflict(rtcc_ledger):
    box = enrolled_box(rtcc_ledger)
    box.camera()
    first = box.segment()
    ingest.tick(now=T0)
    box.put("heartbeats", box.doc("heartbeat", "dup", n=first["n"], **_beat_fields()))
    ingest.tick(now=T0)
    (problem,) = IntegrityProblem.objects.all()
    assert problem.kind == "conflict" and f"number {first['n']} used twice" in problem.detail


def _beat_fields() -> dict:
    return dict(
        sequence=1,
        time=T0,
        boot_id="boot",
        disk={"total": 100, "free": 50},
        pi={"cpu_temp_millic": 48000, "under_voltage": False, "throttled": False},
        clock_synced=True,
        software="crimebox 0.1.0",
        cameras=[],
        outbox={"pending": 0, "oldest_age_s": None},
        load_centi=[50, 40, 30],
        zerotier=None,
    )


def test_an_untrusted_document_does_not_move_the_box_numbering(rtcc_ledger, settings):
    box = enrolled_box(rtcc_ledger)
    box.camera()
    box.segment()
    ingest.tick(now=T0)
    stranger = LedgerBox(rtcc_ledger, "box-1")  # its own key, claiming box-1
    stranger.n = 1_000_000
    stranger.put("segments", stranger.segment_doc(camera_id=9))
    stranger.put("heartbeats", stranger.doc("heartbeat", "x", **_beat_fields()))
    rtcc_ledger["segments"].insert_one({"_id": "junk", "box": "box-1", "n": 2_000_000})
    for _ in range(5):
        box.segment()
    box.heartbeat()
    ingest.tick(now=T0)
    ingest.tick(now=T0 + timedelta(minutes=settings.RTCC_HOLE_GRACE_MINUTES + 1))
    row = Box.objects.get()
    assert row.last_n == box.n and row.cursors["segments"] == 2_000_000
    assert sorted(SegmentRecord.objects.values_list("sequence", flat=True)) == [1, 2, 3, 4, 5, 6]
    assert not MissingRange.objects.exists()
    assert set(IntegrityProblem.objects.values_list("kind", flat=True)) == {"malformed"}
    assert HeldDocument.objects.count() == 2


def test_a_pending_box_is_counted_once_enrolled(rtcc_ledger, settings):
    box = LedgerBox(rtcc_ledger)
    box.register()
    box.camera()
    box.segment()
    stranger = LedgerBox(rtcc_ledger, "box-1")
    stranger.n = 1_000_000
    stranger.register()
    ingest.tick(now=T0)
    assert Box.objects.get().last_n == 0
    enrol("box-1", box.key.fingerprint)
    box.segment()
    ingest.tick(now=T0)
    ingest.tick(now=T0 + timedelta(minutes=settings.RTCC_HOLE_GRACE_MINUTES + 1))
    row = Box.objects.get()
    assert row.last_n == box.n and row.documents == box.n + 1  # and the stranger's
    assert not MissingRange.objects.exists() and not IntegrityProblem.objects.exists()
    assert SegmentRecord.objects.count() == 2


def test_a_prefix_check_is_accepted_and_counted(rtcc_ledger):
    """The box's check of an exported prefix (read when a retrieved package is verified) is
    neither malformed nor a hole in the numbering."""
    box = enrolled_box(rtcc_ledger)
    box.camera()
    box.segment()
    box.put(
        "prefix_checks",
        box.doc(
            "prefix_check",
            f"7:4096:{'a' * 64}",
            export=3,
            camera_id=1,
            camera="North",
            sequence=1,
            segment_sha256="b" * 64,
            path="north/2026-11-24/20261124T140000Z.mp4",
            first_byte=0,
            end_byte=4096,
            prefix_sha256="a" * 64,
            found_sha256="a" * 64,
            result="ok",
            note="",
            checked_at=T0,
        ),
    )
    box.segment()
    result = ingest.tick(now=T0)
    assert result.ok and result.documents == 4
    assert not IntegrityProblem.objects.exists() and not MissingRange.objects.exists()
    row = Box.objects.get()
    assert row.last_n == box.n and row.cursors["prefix_checks"] == box.n - 1
