"""Clips on request end to end in one process: the console asks, the box (its real sender and
upload) answers through FerretDB, the console assembles and verifies; then what a lying box or
a tampered ledger gets: an integrity alert, the package kept aside, nothing offered."""

import hashlib
import json
import re
import subprocess
import zipfile
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from crimebox import retrieval as proto
from recordings.evidence.signing import ensure_signing_key
from recordings.evidence.verify import verify_package
from rtcc import retrieval
from rtcc.models import Alert, Box, Camera, ClipJob
from rtcc.retrieval_verify import verify_and_store
from sync import sender, upload
from sync.models import ClipRequest
from tests.factories import make_camera, make_segments
from tests.sync import conftest as sync_fixtures
from tests.sync.clips import T0

ferretdb, rtcc, rtcc_db = sync_fixtures.ferretdb, sync_fixtures.rtcc, sync_fixtures.rtcc_db
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(rtcc, settings, tmp_path):
    """A box with 12 s of footage replicated, enrolled at the console, trusting its key."""
    settings.KEYS_DIR = tmp_path / "keys"
    settings.KEYS_DIR.mkdir()
    settings.DATA_DIR = tmp_path / "console"
    settings.RTCC_EVIDENCE_DIR = ""
    settings.RTCC_UPLOAD_KBPS, settings.RTCC_CHUNK_KB = 0, 16
    pem = tmp_path / "console.pub.pem"
    pem.write_bytes(retrieval.console_key().public_pem)
    settings.RTCC_CONSOLE_KEY_FILE = str(pem)
    camera = make_camera("North")
    make_segments(camera, T0, 3, seconds=4)
    assert sender.send_pending(force=True).ok
    key = ensure_signing_key()
    box = Box.objects.create(
        box_id="test-box",
        enrolment=Box.Enrolment.ENROLLED,
        fingerprint=key.fingerprint,
        public_key_pem=key.public_pem.decode(),
    )
    Camera.objects.create(box=box, camera_id=camera.pk, name="North")
    return box


def ask(**fields) -> ClipJob:
    values = dict(
        box_id="test-box",
        camera="North",
        start=T0 + timedelta(seconds=1),
        end=T0 + timedelta(seconds=10),
        case_number="26-004512",
        reason="hit and run",
        user="investigator-ann",
    )
    return retrieval.request_clip(**(values | fields))


def box_does_its_part() -> None:
    for _ in range(10):
        upload.run()
        if not ClipRequest.objects.open().exists():
            break
    assert sender.send_pending(force=True).ok


def test_a_requested_clip_is_verified_stored_and_verifies_offline(world, rtcc_db, tmp_path):
    job = ask()
    assert retrieval.tick() == 1
    assert ClipJob.objects.get().state == ClipJob.State.QUEUED  # the box has not looked yet
    box_does_its_part()
    retrieval.tick()
    job.refresh_from_db()
    assert job.state == ClipJob.State.READY, (job.problem, job.report)
    path = Path(job.path)
    assert path.is_file() and not path.stat().st_mode & 0o222  # read-only
    assert hashlib.sha256(path.read_bytes()).hexdigest() == job.package_sha256
    report = json.loads(path.with_name(f"{job.request}.verification.json").read_text())
    assert any("source segment(s) match" in c for c in report["checks"])
    assert rtcc_db.chunks.count_documents({}) == 0  # removed once verified
    # The package verifies offline, as its VERIFY.txt says.
    assert verify_package(path).ok
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(path) as z:
        z.extractall(folder)
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=next(folder.iterdir()))
    assert sums.returncode == 0
    # Both audit trails name the investigator and the request.
    box_side = AuditEvent.objects.filter(username="rtcc:investigator-ann")
    assert {e.detail["rtcc_request"] for e in box_side} == {job.request}
    console_side = AuditEvent.objects.filter(username="investigator-ann")
    assert console_side.get().detail["rtcc_request"] == job.request
    out = StringIO()
    call_command("rtcc_jobs", "--json", stdout=out)
    (row,) = json.loads(out.getvalue())
    assert row["state"] == "ready" and row["sha256"] == job.package_sha256


def uploaded(world, rtcc_db) -> tuple[ClipJob, dict]:
    job = ask()
    box_does_its_part()
    closing = rtcc_db.retrievals.find_one({"request": job.request, "state": "uploaded"})
    return job, closing


def assert_alert(job: ClipJob, words: str) -> None:
    job.refresh_from_db()
    assert job.state == ClipJob.State.ALERT and words in job.problem, job.problem
    assert Alert.objects.filter(kind="integrity", subject=f"rtcc request {job.request}").exists()
    assert job.path == "" or "quarantine" in job.path  # kept aside, never in the store
    assert not (Path(retrieval.settings.DATA_DIR) / "evidence").exists()


def test_a_chunk_with_a_wrong_hash_is_an_alert(world, rtcc_db):
    job, _ = uploaded(world, rtcc_db)
    rtcc_db.chunks.update_one({"n": 2}, {"$set": {"data": b"x" * 100}})
    retrieval.tick()
    assert_alert(job, "chunk 2 holds 100 bytes")
    assert rtcc_db.chunks.count_documents({}) > 0  # kept for examination


def test_a_chunk_moved_to_another_package_is_missing(world, rtcc_db):
    job, _ = uploaded(world, rtcc_db)
    rtcc_db.chunks.update_one({"n": 1}, {"$set": {"package": "box-18:other"}})
    retrieval.tick()
    assert_alert(job, "chunk 1 is missing")


def test_an_extra_chunk_is_never_trusted(world, rtcc_db):
    job, closing = uploaded(world, rtcc_db)
    package = proto.package_id("test-box", job.request)
    extra = proto.chunk_doc("test-box", job.request, closing["chunks"], b"more", at=T0)
    rtcc_db.chunks.insert_one(extra)
    retrieval.tick()
    assert_alert(job, "hold more than")
    assert rtcc_db.chunks.count_documents({"package": package}) == closing["chunks"] + 1


def test_a_closing_document_that_lies_about_the_size(world, rtcc_db):
    job, closing = uploaded(world, rtcc_db)
    lie = {**closing, "size": closing["size"] - 1}  # as a compromised box would sign it
    verify_and_store(job, lie)
    assert_alert(job, "closing document's size")


def test_a_segment_document_changed_at_the_datacenter_is_an_alert(world, rtcc_db):
    job, _ = uploaded(world, rtcc_db)
    rtcc_db.segments.update_many({}, {"$set": {"sha256": "0" * 64}})
    retrieval.tick()
    assert_alert(job, "is not signed by the enrolled key")


def test_answers_not_signed_by_the_enrolled_key_are_ignored(world, rtcc_db):
    job, _ = uploaded(world, rtcc_db)
    Box.objects.update(public_key_pem=retrieval.console_key().public_pem.decode())
    retrieval.tick()
    job.refresh_from_db()
    assert job.state == ClipJob.State.QUEUED  # nothing believed, nothing offered


def test_cancel_at_the_console(world, rtcc_db):
    job = ask()
    retrieval.cancel(job, "supervisor-bo")
    box_does_its_part()
    retrieval.tick()
    job.refresh_from_db()
    assert job.state == ClipJob.State.CANCELLED and job.cancelled_by == "supervisor-bo"
    with pytest.raises(retrieval.RequestError, match=r"already finished \(cancelled\)"):
        retrieval.cancel(job, "supervisor-bo")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--box", "box-99"], "No box 'box-99'"),
        (["--camera", "South"], "no camera named 'South'"),
        (["--case", "26\x07"], "control character (U+0007)"),
        (["--end", "2026-11-24T13:00:00Z"], "after its start"),
        (["--end", "2026-11-25T14:00:00Z"], "longer than 60 minutes"),
        (["--start", "yesterday"], "is not a time"),
    ],
)
def test_rtcc_request_clip_refuses_bad_input(world, rtcc_db, args, message):
    base = {
        "--box": "test-box",
        "--camera": "North",
        "--start": "2026-11-24T14:00:01Z",
        "--end": "2026-11-24T14:00:10Z",
        "--case": "C-1",
        "--reason": "r",
        "--user": "ann",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("rtcc_request_clip", *[x for kv in base.items() for x in kv])
    assert not ClipJob.objects.exists() and rtcc_db.requests.count_documents({}) == 0


def test_rtcc_request_clip_prints_the_request_id(world, rtcc_db):
    out = StringIO()
    call_command(
        "rtcc_request_clip", "--box", "test-box", "--camera", "North", "--start",
        "2026-11-24T14:00:01Z", "--end", "2026-11-24T14:00:10Z", "--case", "C-1",
        "--reason", "r", "--user", "ann", stdout=out,
    )  # fmt: skip
    request = out.getvalue().strip()
    assert ClipJob.objects.get().request == request
    assert rtcc_db.requests.find_one({"request": request})["sig"]["key"] == (
        retrieval.console_key().fingerprint
    )
    key = StringIO()
    call_command("rtcc_console_key", stdout=key, stderr=StringIO())
    assert key.getvalue().startswith("-----BEGIN PUBLIC KEY-----")


def test_one_job_that_fails_stops_neither_the_others_nor_the_loop(
    world, rtcc_db, monkeypatch, caplog
):
    first, second = ask(), ask(case_number="26-004513")
    followed, real = [], retrieval.refresh

    def refresh(job, now=None):
        followed.append(job.request)
        if job.request == first.request:
            raise OSError(28, "No space left on device")
        return real(job, now)

    monkeypatch.setattr(retrieval, "refresh", refresh)
    assert retrieval.tick() == 2
    assert followed == [first.request, second.request]
    assert f"clip job {first.request}: this pass failed" in caplog.text
    assert ClipJob.objects.get(pk=first.pk).state in ClipJob.OPEN  # tried again next pass


def test_rtcc_retrieve_once_with_the_ledger_down_says_so_and_fails(world, settings, tmp_path):
    ask()
    settings.RTCC_URI = "mongodb://127.0.0.1:9/"  # nothing listens there
    settings.RTCC_TIMEOUT_SECONDS = 1
    with pytest.raises(CommandError, match="127.0.0.1:9"):
        call_command("rtcc_retrieve", "--once", stdout=StringIO())


def test_rtcc_retrieve_once_follows_the_open_jobs(world, rtcc_db):
    ask()
    out = StringIO()
    call_command("rtcc_retrieve", "--once", stdout=out)
    assert out.getvalue().strip() == "1 open clip job(s) followed"
