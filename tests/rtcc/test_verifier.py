"""rtcc/verifier.py: a chunk's signatures checked in the worker process while the one before
is written; the ingest decides, and verifies inline when the worker is off or dead."""

import logging
import os
import signal
import time
from datetime import timedelta

import pytest

from rtcc import ingest, trust
from rtcc.models import Box, IntegrityProblem, SegmentRecord
from rtcc.trust import enrol
from rtcc.verifier import VERIFIER

from .conftest import T0, LedgerBox
from .test_ingest import enrolled_box

pytestmark = pytest.mark.django_db


@pytest.fixture
def counted(monkeypatch):
    """Chunks of 3 (so most are read ahead, and go to the worker), and the signatures this
    process verifies itself counted (the worker's are not)."""
    monkeypatch.setattr(ingest, "CHUNK", 3)
    calls = []
    real = trust.verify

    def verify(doc, key):
        calls.append(doc["_id"])
        return real(doc, key)

    monkeypatch.setattr(trust, "verify", verify)
    return calls


def backlog(box, segments: int = 10) -> dict:
    """A camera and `segments` segments; the 5th has been changed after it was signed."""
    box.camera()
    changed = {}
    for i in range(segments):
        doc = box.segment_doc()
        if i == 4:
            changed = doc = {**doc, "size": doc["size"] + 1}
        box.put("segments", doc)
    return changed


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(
    "worker,verified_here",
    [
        # The first chunk (the camera and two segments), and the bad one again when its
        # number's hole is re-checked at the end of the pass (recheck_holes).
        (True, 4),
        (False, 11 + 1),  # every one inline, and the bad one when its hole is re-checked
    ],
)
def test_a_bad_signature_is_caught_with_the_worker_or_without(
    rtcc_ledger, counted, settings, worker, verified_here
):
    settings.RTCC_VERIFY_WORKER = worker
    box = enrolled_box(rtcc_ledger)
    counted.clear()
    changed = backlog(box)
    assert ingest.tick(now=T0).documents == 11
    (problem,) = IntegrityProblem.objects.all()
    assert problem.kind == "bad_signature" and problem.doc_id == changed["_id"]
    assert SegmentRecord.objects.count() == 9
    assert len(counted) == verified_here
    if worker:
        assert VERIFIER.pid and not gone(VERIFIER.pid)


def test_answers_for_a_key_no_longer_enrolled_are_not_used():
    box = Box(enrolment=Box.Enrolment.ENROLLED, fingerprint="b" * 64)
    assert ingest.Checked("b" * 64, [True, False]).valid(box, 2) == [True, False]
    assert ingest.Checked("a" * 64, [True, False]).valid(box, 2) == [None, None]
    assert ingest.Checked("b" * 64, None).valid(box, 2) == [None, None]
    box.enrolment = Box.Enrolment.REVOKED
    assert ingest.Checked("b" * 64, [True, True]).valid(box, 2) == [None, None]


def test_a_dead_worker_is_noticed_its_chunk_verified_inline_and_replaced(
    rtcc_ledger, counted, caplog
):
    box = enrolled_box(rtcc_ledger)
    assert ingest.tick(now=T0).ok
    dead = VERIFIER.pid
    os.kill(dead, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not gone(dead) and time.monotonic() < deadline:
        time.sleep(0.02)
    counted.clear()
    changed = backlog(box)
    with caplog.at_level(logging.WARNING, logger="rtcc.ingest"):
        assert ingest.tick(now=T0 + timedelta(seconds=5)).documents == 11
    assert f"verification worker (pid {dead}) died" in caplog.text
    # Nothing lost, the bad signature still caught: every document verified here this pass.
    (problem,) = IntegrityProblem.objects.all()
    assert problem.doc_id == changed["_id"] and SegmentRecord.objects.count() == 9
    assert len(counted) == 11 + 1  # and the bad one when its hole is re-checked
    ingest.tick(now=T0 + timedelta(seconds=10))  # the next pass has a new worker
    assert VERIFIER.pid not in (0, dead) and not gone(VERIFIER.pid)


def test_ctrl_c_or_a_group_term_is_the_ingest_s_to_handle_not_the_worker_s(
    rtcc_ledger, counted, caplog
):
    box = enrolled_box(rtcc_ledger)
    assert ingest.tick(now=T0).ok
    worker = VERIFIER.pid
    os.kill(worker, signal.SIGINT)
    os.kill(worker, signal.SIGTERM)
    backlog(box)
    with caplog.at_level(logging.WARNING, logger="rtcc.ingest"):
        assert ingest.tick(now=T0 + timedelta(seconds=5)).documents == 11
    assert "died" not in caplog.text
    assert VERIFIER.pid == worker and not gone(worker)


def test_answers_checked_with_a_key_replaced_during_the_pass_are_not_used(
    rtcc_ledger, counted, monkeypatch
):
    old = enrolled_box(rtcc_ledger)
    new = LedgerBox(rtcc_ledger, "box-1")  # the same box with a new key
    new.n = old.n
    new.register()
    assert ingest.tick(now=T0).ok
    new.camera()
    for _ in range(8):
        new.segment()
    real = ingest.apply_chunk

    def apply_chunk(box, chunk, *args, **kwargs):
        real(box, chunk, *args, **kwargs)
        if not Box.objects.filter(fingerprint=new.key.fingerprint).exists():
            enrol("box-1", new.key.fingerprint)  # the operator, after the first chunk

    monkeypatch.setattr(ingest, "apply_chunk", apply_chunk)
    ingest.tick(now=T0 + timedelta(seconds=5))
    # The first chunk was held (the old key enrolled); the worker checked the later ones with
    # the old key, which cannot verify them: verified here with the new one instead.
    assert not IntegrityProblem.objects.filter(kind="bad_signature").exists()
    assert SegmentRecord.objects.count() == 6
