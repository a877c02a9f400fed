"""Bad documents and a bad ledger: a clear problem or alert, the rest ingested, never a crash."""

import time
from datetime import timedelta

import pytest

from rtcc import ingest
from rtcc.ledger import Ledger, LedgerError
from rtcc.models import (
    Alert,
    Box,
    HeldDocument,
    IngestState,
    IntegrityProblem,
    MissingRange,
    SegmentRecord,
)
from rtcc.trust import enrol

from .conftest import T0, LedgerBox
from .test_ingest import enrolled_box

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_chunks")]


def problems() -> dict[str, str]:
    return {p.doc_id: f"{p.kind}: {p.detail}" for p in IntegrityProblem.objects.all()}


def test_malformed_documents_are_named_and_the_others_ingested(rtcc_ledger):
    box = enrolled_box(rtcc_ledger)
    box.camera()
    good = box.segment()
    bad = {
        "wrong type": box.doc("segment", "1:90", **{**_fields(box), "sequence": "2"}),
        "missing": box.doc("segment", "1:91", **_fields(box, drop="sha256")),
        "schema": {**box.doc("segment", "1:92", **_fields(box)), "schema": 3},
        "kind": box.doc("weird", "1", **_fields(box)),
        "huge": box.doc("segment", "1:93", **{**_fields(box), "camera": "x" * 1_000_000}),
        "forged": {**box.doc("segment", "1:94", **_fields(box)), "_id": "box-2:segment:1:94"},
    }
    for doc in bad.values():
        box.put("segments", doc)
    after = box.segment()
    result = ingest.tick(now=T0)
    assert result.ok
    found = problems()
    assert "field sequence is not int" in found[bad["wrong type"]["_id"]]
    assert "missing field sha256" in found[bad["missing"]["_id"]]
    assert "unknown schema 3" in found[bad["schema"]["_id"]]
    assert "unknown kind 'weird' in segments" in found[bad["kind"]["_id"]]
    assert "field camera is longer than 100" in found[bad["huge"]["_id"]]
    assert found["box-2:segment:1:94"].startswith("forged_box")
    assert set(SegmentRecord.objects.values_list("doc_id", flat=True)) == {
        good["_id"],
        after["_id"],
    }
    assert Alert.objects.active().filter(kind=Alert.Kind.INTEGRITY).count() == len(bad)
    assert not Box.objects.get().integrity_ok


def _fields(box: LedgerBox, drop: str = "") -> dict:
    doc = box.segment_doc()
    box.chains[1] = (box.chains[1][0] - 1, doc["prev_chain_hash"])  # not a real link
    box.n -= 1
    skip = {"_id", "box", "schema", "kind", "n", "sig", drop}
    return {k: v for k, v in doc.items() if k not in skip}


def test_a_document_that_cannot_be_stored_is_set_aside_not_a_crash_loop(rtcc_ledger):
    box = enrolled_box(rtcc_ledger)
    box.camera()
    first = box.segment()
    # A second document for the same camera and sequence under another _id (a buggy box).
    twin = box.doc(
        "segment",
        "1:1:again",
        **{k: v for k, v in first.items() if k not in ("_id", "box", "schema", "kind", "n", "sig")},
    )
    box.put("segments", twin)
    box.segment()
    assert ingest.tick(now=T0).ok
    assert ingest.tick(now=T0).ok  # and again: nothing re-read, nothing raised
    assert "could not be stored" in problems()[twin["_id"]]
    assert SegmentRecord.objects.count() == 2


def test_a_changed_document_fails_its_signature_at_ingest(rtcc_ledger):
    box = enrolled_box(rtcc_ledger)
    box.camera()
    doc = box.segment_doc()
    box.put("segments", {**doc, "size": doc["size"] + 1})
    ingest.tick(now=T0)
    (problem,) = IntegrityProblem.objects.all()
    assert problem.kind == "bad_signature" and problem.doc_id == doc["_id"]
    assert problem.sequence == 1 and problem.camera.name == "North"
    assert not SegmentRecord.objects.exists()


def test_a_second_key_is_an_alert_and_its_documents_are_held(rtcc_ledger):
    box = enrolled_box(rtcc_ledger)
    thief = LedgerBox(rtcc_ledger, "box-1")
    thief.n = box.n
    thief.register()
    box.n = thief.n
    thief.camera()
    ingest.tick(now=T0)
    (alert,) = Alert.objects.active().filter(kind=Alert.Kind.SECOND_KEY)
    assert thief.key.fingerprint in alert.message
    assert HeldDocument.objects.get().fingerprint == thief.key.fingerprint


def test_another_boxs_key_is_a_forged_box(rtcc_ledger):
    one = enrolled_box(rtcc_ledger, "box-1")
    two = enrolled_box(rtcc_ledger, "box-2")
    forged = LedgerBox(rtcc_ledger, "box-2", key=one.key)
    forged.n = two.n
    forged.camera()
    ingest.tick(now=T0)
    (problem,) = IntegrityProblem.objects.all()
    assert problem.kind == "forged_box" and problem.box.box_id == "box-2"
    assert "box-1" in problem.detail


def test_ledger_down_at_start_then_back(rtcc_ledger, settings, rtcc_ferretdb):
    box = enrolled_box(rtcc_ledger)
    box.heartbeat()
    ingest.tick(now=T0)
    assert Box.objects.get().state == Box.State.RECORDING
    settings.RTCC_URI = "mongodb://reader:secret@127.0.0.1:9/"
    settings.RTCC_TIMEOUT_SECONDS = 0.5
    later = T0 + timedelta(hours=1)
    result = ingest.tick(now=later)
    assert not result.ok and "secret" not in result.error and "reader" not in result.error
    assert result.error.startswith("boxes: mongodb://127.0.0.1:9/ did not answer within 0.5 s: ")
    assert "Connection refused" in result.error
    state = IngestState.get()
    assert state.last_error and state.last_ok_at == T0
    # The fleet is not judged on what could not be read: no box goes dark for it.
    assert Box.objects.get().state == Box.State.RECORDING
    assert not Alert.objects.active().filter(kind=Alert.Kind.SILENT).exists()
    settings.RTCC_URI = rtcc_ferretdb.uri
    assert ingest.tick(now=later).ok
    assert IngestState.get().last_error == ""
    assert Box.objects.get().state == Box.State.DARK  # now it is known: silent an hour


def test_a_ledger_that_never_answers_is_a_clear_error_in_bounded_time(
    rtcc_ledger, settings, silent_port
):
    box = enrolled_box(rtcc_ledger)
    box.heartbeat()
    ingest.tick(now=T0)
    settings.RTCC_URI = f"mongodb://127.0.0.1:{silent_port}/"
    settings.RTCC_TIMEOUT_SECONDS = 0.5
    started = time.monotonic()
    result = ingest.tick(now=T0 + timedelta(hours=1))
    assert time.monotonic() - started < 5
    assert result.error.startswith(
        f"boxes: mongodb://127.0.0.1:{silent_port}/ did not answer within 0.5 s: "
    )
    # Then pymongo's own reason ("No servers found yet" or "… timed out"), not its topology.
    assert "Topology" not in result.error
    assert IngestState.get().last_error == result.error[:2000]
    assert Box.objects.get().state == Box.State.RECORDING  # not judged on what was not read


def test_ledger_lost_in_the_middle_of_a_pass_loses_nothing_and_counts_nothing_twice(
    rtcc_ledger, monkeypatch
):
    box = enrolled_box(rtcc_ledger)
    box.camera()
    for _ in range(10):
        box.segment()
    real = Ledger.after

    def dies_after_five_segments(self, name, box_id, n, limit):
        for i, doc in enumerate(real(self, name, box_id, n, limit)):
            if name == "segments" and i == 5:
                raise LedgerError("segments: connection closed by the server")
            yield doc

    monkeypatch.setattr(ingest, "CHUNK", 3)  # camera+1+2, 3..5, then the read fails
    monkeypatch.setattr(Ledger, "after", dies_after_five_segments)
    result = ingest.tick(now=T0)
    assert result.error == "segments: connection closed by the server"
    assert IngestState.get().last_error == result.error
    assert SegmentRecord.objects.count() == 5  # what was read before the loss, committed
    monkeypatch.setattr(Ledger, "after", real)
    assert ingest.tick(now=T0).ok
    assert sorted(SegmentRecord.objects.values_list("sequence", flat=True)) == list(range(1, 11))
    assert set(SegmentRecord.objects.values_list("verification", flat=True)) == {"verified"}
    assert not IntegrityProblem.objects.exists() and not MissingRange.objects.exists()
    row = Box.objects.get()
    assert row.documents == 12 and row.last_n == box.n


def test_no_uri_is_a_clear_error(settings):
    settings.RTCC_URI = settings.RTCC_URI_FILE = ""
    result = ingest.tick(now=T0)
    assert "CRIMEBOX_RTCC_URI is not set" in result.error
    enrol_error = None
    try:
        enrol("nobox", "0" * 64)
    except Exception as e:  # EnrolmentError
        enrol_error = str(e)
    assert enrol_error == "no box 'nobox' has written to the ledger"
