"""Clip requests from the RTCC console, the box's work: build, chunked upload over a link that
drops (FerretDB stopped and started), cancel, a box killed mid-build, squatted chunks."""

import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from crimebox import retrieval as proto
from crimebox.signature import from_body
from recordings.models import Export, Segment
from sync import sender, upload
from sync.models import ClipRequest, OutboxItem
from tests.factories import make_camera, make_segments
from tests.sync.clips import T0, make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def footage(db):
    camera = make_camera("North")
    make_segments(camera, T0, 3, seconds=4)
    return camera


def ask(rtcc_db, key, **fields) -> dict:
    doc = make_request(key, **fields)
    rtcc_db.requests.insert_one(doc)
    return doc


def assembled(rtcc_db, request: str) -> bytes:
    chunks = list(rtcc_db.chunks.find({"package": f"test-box:{request}"}).sort("n").batch_size(16))
    assert [c["n"] for c in chunks] == list(range(len(chunks)))  # each n once
    return b"".join(c["data"] for c in chunks)


def until_done(limit: int = 10) -> ClipRequest:
    for _ in range(limit):
        upload.run()
        job = ClipRequest.objects.get()
        if job.state not in ClipRequest.OPEN:
            return job
    raise AssertionError(f"still {job.state}: {job.last_error}")


def test_request_to_uploaded_package(rtcc, rtcc_db, console, footage):
    doc = ask(rtcc_db, console)
    job = until_done()
    assert job.state == ClipRequest.State.UPLOADED, job.last_error
    export = job.export
    data = assembled(rtcc_db, doc["request"])
    assert len(data) == export.size and hashlib.sha256(data).hexdigest() == export.sha256
    assert job.chunks_total == proto.chunk_count(export.size, 16 * 1024) > 3
    assert job.bytes_sent == export.size  # nothing sent twice
    # The closing document reached the datacenter, after the exports document it points to.
    closing = rtcc_db.retrievals.find_one({"request": doc["request"], "state": "uploaded"})
    assert closing["package_sha256"] == export.sha256 and closing["size"] == export.size
    assert closing["chunks"] == job.chunks_total
    assert rtcc_db.exports.find_one({"_id": closing["export"]})["package_sha256"] == export.sha256
    # The package's custody record names the RTCC user and the request.
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        name = next(n for n in z.namelist() if n.endswith("manifest.json"))
        manifest = json.loads(z.read(name))
    custody = [e for e in manifest["audit_events"] if e["user"] == "rtcc:alice"]
    assert custody and custody[0]["detail"]["rtcc_request"] == doc["request"]
    assert manifest["case_number"] == "26-004512"
    # The box's audit trail: requested, then uploaded, both naming the user and the request.
    trail = AuditEvent.objects.filter(username="rtcc:alice").order_by("sequence")
    assert [e.detail["event"] for e in trail] == [
        "clip requested at the RTCC",
        "RTCC clip package uploaded",
    ]
    assert not OutboxItem.objects.pending().exists()


def cut_at(rtcc, monkeypatch, n: int, then=None):
    """Take the datacenter down just before chunk `n` goes (after replication went first)."""
    calls = {"n": 0}
    real = upload.replication_first

    def hook():
        real()
        if calls["n"] == n:
            (then or rtcc.stop)()
        calls["n"] += 1

    monkeypatch.setattr(upload, "replication_first", hook)
    return calls


def test_a_cut_link_resumes_from_the_chunks_already_there(
    rtcc, rtcc_db, console, footage, monkeypatch
):
    doc = ask(rtcc_db, console)
    cut_at(rtcc, monkeypatch, 3)
    result = upload.run(max_seconds=1)  # no time left to wait for the link in this pass
    assert result.startswith(upload.LINK_DOWN)
    job = ClipRequest.objects.get()
    assert job.state == ClipRequest.State.UPLOADING and job.chunks_done == 3
    assert job.last_error  # what went wrong is on the row
    sender.SyncState.objects.update(next_attempt_at=None)
    rtcc.start()
    monkeypatch.undo()
    job = until_done()
    assert job.state == ClipRequest.State.UPLOADED, job.last_error
    data = assembled(rtcc_db, doc["request"])
    assert hashlib.sha256(data).hexdigest() == job.export.sha256
    assert job.resumes == 1
    assert job.bytes_sent - job.export.size <= 16 * 1024  # at most one chunk again
    assert Export.objects.count() == 1  # the same package, not a second one


def test_cancel_at_the_console_stops_within_one_chunk(rtcc, rtcc_db, console, footage, monkeypatch):
    doc = ask(rtcc_db, console)

    def cancel():
        rtcc_db.requests.insert_one(
            proto.cancel_doc(
                console,
                request=doc["request"],
                box="test-box",
                user="bob",
                created_at=timezone.now(),
            )
        )

    cut_at(rtcc, monkeypatch, 2, then=cancel)
    job = until_done()
    assert job.state == ClipRequest.State.CANCELLED
    assert rtcc_db.chunks.count_documents({"request": doc["request"]}) <= 3
    sender.send_pending(force=True)
    assert rtcc_db.retrievals.find_one({"request": doc["request"], "state": "cancelled"})
    assert AuditEvent.objects.filter(
        username="rtcc:alice", detail__event="RTCC clip request cancelled at the RTCC"
    ).exists()


def test_a_box_killed_mid_build_builds_once_more_and_says_so(rtcc, rtcc_db, console, footage):
    doc = ask(rtcc_db, console)
    from sync.requests import poll

    poll()
    job = ClipRequest.objects.get()
    # What a kill -9 during run_export leaves: the job building, its export running, a claim
    # from a worker that is gone.
    dead = Export.objects.create(
        start=job.start,
        end=job.end,
        case_number=job.case_number,
        reason="x",
        status=Export.Status.RUNNING,
    )
    dead.cameras.set([footage])
    ClipRequest.objects.filter(pk=job.pk).update(
        state=ClipRequest.State.BUILDING,
        export=dead,
        claim="gone",
        claimed_at=timezone.now() - timedelta(minutes=6),
    )
    job = until_done()
    assert job.state == ClipRequest.State.UPLOADED, job.last_error
    dead.refresh_from_db()
    assert dead.status == Export.Status.FAILED and "interrupted" in dead.error
    assert Export.objects.filter(status=Export.Status.DONE).count() == 1
    data = assembled(rtcc_db, doc["request"])
    assert hashlib.sha256(data).hexdigest() == job.export.sha256
    assert any("build interrupted" in e.detail.get("event", "") for e in AuditEvent.objects.all())


def test_a_live_claim_keeps_a_second_worker_off(rtcc, rtcc_db, console, footage):
    ask(rtcc_db, console)
    ask(rtcc_db, console, priority=5)
    from sync.requests import poll

    poll()
    now = timezone.now()
    first = upload.claim_next(now)
    assert first is not None and first.priority == 5  # priority first
    assert upload.claim_next(now) is None  # one job at a time per box


def test_a_chunk_squatted_at_the_datacenter_fails_the_upload(rtcc, rtcc_db, console, footage):
    doc = ask(rtcc_db, console)
    squat = proto.chunk_doc("test-box", doc["request"], 0, b"not the package", at=timezone.now())
    squat["_id"] = "box-18:chunk:whatever"
    rtcc_db.chunks.insert_one(squat)
    job = until_done()
    assert job.state == ClipRequest.State.FAILED
    assert "chunk 0 at the datacenter is not this package's bytes" in job.last_error
    sender.send_pending(force=True)
    failed = rtcc_db.retrievals.find_one({"request": doc["request"], "state": "failed"})
    assert "not this package's bytes" in failed["reason"]


def test_deleted_footage_is_refused(rtcc, rtcc_db, console, footage):
    Segment.objects.update(status=Segment.Status.DELETED)
    ask(rtcc_db, console)
    job = until_done()
    assert job.state == ClipRequest.State.REFUSED
    assert "no longer on the box" in job.last_error
    answer = from_body(OutboxItem.objects.get(doc_id__endswith=":refused").body)
    assert answer["reason"] == job.last_error


def test_a_window_still_being_recorded_waits(rtcc, rtcc_db, console, footage):
    now = timezone.now()
    ask(rtcc_db, console, start=now - timedelta(minutes=1), end=now + timedelta(minutes=1))
    assert upload.run() == "no clip request to work on"
    assert ClipRequest.objects.get().state == ClipRequest.State.WAITING
    assert not upload.has_work()


def test_a_short_cut_is_ridden_out_within_the_pass(rtcc, rtcc_db, console, footage, monkeypatch):
    import threading

    doc = ask(rtcc_db, console)
    back = threading.Timer(2.0, rtcc.start)
    cut_at(rtcc, monkeypatch, 2, then=lambda: (rtcc.stop(), back.start()))
    assert upload.run(max_seconds=60).startswith("uploaded")
    job = ClipRequest.objects.get()
    assert job.state == ClipRequest.State.UPLOADED and job.resumes == 1
    assert hashlib.sha256(assembled(rtcc_db, doc["request"])).hexdigest() == job.export.sha256


def test_a_box_killed_mid_upload_resumes_the_same_package_and_says_so(
    rtcc, rtcc_db, console, footage, monkeypatch
):
    doc = ask(rtcc_db, console)

    class Killed(BaseException):
        pass

    def kill():
        raise Killed

    cut_at(rtcc, monkeypatch, 3, then=kill)
    with pytest.raises(Killed):
        upload.run()
    monkeypatch.undo()
    # What a kill -9 leaves (no `finally` ran): the job uploading under a dead worker's claim.
    ClipRequest.objects.update(claim="gone", claimed_at=timezone.now() - timedelta(minutes=6))
    job = ClipRequest.objects.get()
    assert job.state == ClipRequest.State.UPLOADING and job.chunks_done == 3
    job = until_done()
    assert job.state == ClipRequest.State.UPLOADED, job.last_error
    assert Export.objects.count() == 1  # the same package, not a second one
    data = assembled(rtcc_db, doc["request"])
    assert hashlib.sha256(data).hexdigest() == job.export.sha256
    assert job.bytes_sent == job.export.size  # resumed after chunk 3: nothing sent twice
    (entry,) = AuditEvent.objects.filter(detail__event__startswith="RTCC clip upload interrupted")
    assert entry.detail["rtcc_request"] == doc["request"] and entry.detail["chunks_done"] == 3


def test_the_throttle_keeps_the_rate_under_the_cap(monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr(upload.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(upload.time, "sleep", lambda s: clock.__setitem__("now", clock["now"] + s))
    throttle = upload.Throttle(kbps=80)  # 10,000 bytes a second
    sent = 0
    for size in [4000, 1000, 9000, 2500] * 10:
        throttle.wait(size)
        sent += size
        # Since the start, this chunk included, never more than the cap.
        assert sent <= 10_000 * (clock["now"] - 1000.0) + 1e-6
        clock["now"] += 0.05  # the send itself
    assert sent / (clock["now"] - 1000.0) <= 10_000
    assert sent / (clock["now"] - 1000.0) > 9_000  # and the cap is used, not wasted
    free = upload.Throttle(kbps=0)
    before = clock["now"]
    free.wait(10**9)
    assert clock["now"] == before  # no cap: no wait


def test_replication_documents_go_before_the_next_chunk(
    rtcc, rtcc_db, console, footage, monkeypatch
):
    ask(rtcc_db, console)
    seen, real = {}, upload.send_chunk

    def spy(job, n, data):
        seen[n] = (OutboxItem.objects.pending().count(), rtcc_db.segments.count_documents({}))
        result = real(job, n, data)
        if n == 1:  # a segment closes while the upload runs
            make_segments(footage, T0 + timedelta(minutes=5), 1, seconds=4)
            assert OutboxItem.objects.pending().exists()
        return result

    monkeypatch.setattr(upload, "send_chunk", spy)
    job = until_done()
    assert job.state == ClipRequest.State.UPLOADED, job.last_error
    assert seen[2] == (0, seen[1][1] + 1)  # its document reached the datacenter first
