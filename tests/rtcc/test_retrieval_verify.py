"""What stands behind "verified by the datacenter": each check of rtcc/retrieval_verify.py
against a thief who holds the box's key (every forged document and package re-signed with it),
a login that planted documents under the box's ids first, and a console killed mid-store."""

import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cameras.models import Camera as LocalCamera
from crimebox import retrieval as proto
from crimebox.signature import sign
from recordings.evidence.signing import ensure_signing_key
from recordings.index import index_segment
from recordings.models import Export, Segment
from rtcc import retrieval
from rtcc.models import ClipJob
from rtcc.retrieval_verify import Problem, check_segments, verify_and_store
from sync import sender
from tests.rtcc import test_retrieval as clips
from tests.sync.clips import T0, export_into_open_segment, manifest_of

ferretdb, rtcc, rtcc_db, world = clips.ferretdb, clips.rtcc, clips.rtcc_db, clips.world
ask, box_does_its_part, uploaded, assert_alert = (
    clips.ask,
    clips.box_does_its_part,
    clips.uploaded,
    clips.assert_alert,
)
pytestmark = pytest.mark.django_db


def resigned(doc: dict, **changes: object) -> dict:
    """`doc` changed and signed again with the box's key, as a thief holding it would."""
    body = {k: v for k, v in doc.items() if k != "sig"}
    return sign(body | changes, ensure_signing_key())


def package_bytes(rtcc_db, job: ClipJob) -> bytes:
    package = proto.package_id("test-box", job.request)
    return b"".join(d["data"] for d in rtcc_db.chunks.find({"package": package}).sort("n", 1))


def upload_instead(rtcc_db, job: ClipJob, closing: dict, data: bytes) -> dict:
    """`data` in place of the box's chunks; the closing answer, re-signed to match them."""
    package = proto.package_id("test-box", job.request)
    rtcc_db.chunks.delete_many({"package": package})
    step = closing["chunk_size"]
    parts = [data[i : i + step] for i in range(0, len(data), step)]
    rtcc_db.chunks.insert_many(
        [proto.chunk_doc("test-box", job.request, n, part, at=T0) for n, part in enumerate(parts)]
    )
    return resigned(closing, size=len(data), chunks=len(parts))


def forge_package(rtcc_db, job: ClipJob, closing: dict, change: Callable[[str, bytes], bytes]):
    """The package rebuilt with every member passed through `change(name, data)`, uploaded,
    and the box's exports document and closing answer re-signed with its new SHA-256 and size."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(package_bytes(rtcc_db, job))) as src,
        zipfile.ZipFile(out, "w") as dst,
    ):
        for info in src.infolist():
            dst.writestr(info, change(info.filename, src.read(info)))
    data = out.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    closing = resigned(upload_instead(rtcc_db, job, closing, data), package_sha256=sha256)
    export = rtcc_db.exports.find_one({"_id": closing["export"]})
    rtcc_db.exports.replace_one(
        {"_id": export["_id"]}, resigned(export, package_sha256=sha256, size=len(data))
    )
    return closing


def test_answers_and_exports_planted_first_by_another_login_do_not_jam_the_clip(world, rtcc_db):
    """A box login that inserts the box's future `_id`s first: the box puts its own under
    `<_id>~1`, and the console finds them there, believing only what the box's key signed."""
    job = ask()
    assert not Export.objects.exists()
    planted = {"request": job.request, "box": "test-box", "size": 1, "chunks": 1, "export": ""}
    squatter = retrieval.console_key()  # any key but the box's
    uploaded_id = proto.answer_doc_id("test-box", job.request, proto.UPLOADED)
    rtcc_db.retrievals.insert_one(
        sign({"_id": uploaded_id, "state": proto.UPLOADED, **planted}, squatter)
    )
    export_id = "test-box:export:1"  # the first export the box will make
    rtcc_db.exports.insert_one(sign({"_id": export_id, "box": "test-box"}, squatter))
    box_does_its_part()
    assert rtcc_db.retrievals.find_one({"_id": f"{uploaded_id}~1"}) is not None
    assert rtcc_db.exports.find_one({"_id": f"{export_id}~1"}) is not None
    retrieval.tick()
    job.refresh_from_db()
    assert job.state == ClipJob.State.READY, (job.state, job.problem, job.report)
    assert job.report["export"] == export_id


def test_a_console_killed_after_storing_finishes_the_job_without_rewriting(
    world, rtcc_db, monkeypatch
):
    job, _ = uploaded(world, rtcc_db)
    monkeypatch.setattr(retrieval.mongo, "remove_chunks", lambda package: 0)
    retrieval.tick()
    job.refresh_from_db()
    assert job.state == ClipJob.State.READY
    stored = Path(job.path)
    report = stored.with_name(f"{job.request}.verification.json")
    before = stored.stat()
    # Killed after the package was renamed into the store, before the report and the row.
    report.unlink()
    ClipJob.objects.filter(pk=job.pk).update(state=ClipJob.State.UPLOADING, path="")
    monkeypatch.undo()
    retrieval.tick()
    job.refresh_from_db()
    assert job.state == ClipJob.State.READY and job.path == str(stored)
    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert json.loads(report.read_text())["package_sha256"] == job.package_sha256
    assert not report.stat().st_mode & 0o222
    assert rtcc_db.chunks.count_documents({}) == 0
    assert not list(retrieval.settings.DATA_DIR.joinpath("evidence-quarantine").iterdir())


def test_an_evidence_store_on_its_own_filesystem_gets_the_package_whole(
    world, rtcc_db, settings, monkeypatch
):
    """A datacenter mounts its evidence store (a WORM share) apart from the console's data: a
    rename cannot cross filesystems, so the package is copied, flushed and renamed there."""
    shm = Path("/dev/shm")
    store = Path(tempfile.mkdtemp(prefix="crimebox-store-", dir=shm if shm.is_dir() else None))
    try:
        settings.RTCC_EVIDENCE_DIR = str(store)
        if store.stat().st_dev == settings.DATA_DIR.parent.stat().st_dev:
            # No second filesystem on this machine: make the rename fail as across two.
            real = os.replace

            def across(src, dst):
                if Path(dst).parent.parent == store:
                    raise OSError(errno.EXDEV, "Invalid cross-device link")
                return real(src, dst)

            monkeypatch.setattr("crimebox.atomic.os.replace", across)
            monkeypatch.setattr("rtcc.retrieval_verify.os.replace", across)
        job, _ = uploaded(world, rtcc_db)
        retrieval.tick()
        job.refresh_from_db()
        assert job.state == ClipJob.State.READY, job.report
        stored = Path(job.path)
        assert stored.parent.parent == store
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == job.package_sha256
        assert not stored.stat().st_mode & 0o222
        assert sorted(p.name for p in stored.parent.iterdir()) == [
            f"{job.request}.verification.json",
            f"{job.request}.zip",
        ]
        assert not list(settings.DATA_DIR.joinpath("evidence-quarantine").iterdir())
    finally:
        shutil.rmtree(store, ignore_errors=True)


def test_a_package_whose_manifest_signature_does_not_verify(world, rtcc_db):
    job, closing = uploaded(world, rtcc_db)

    def bad_sig(name: str, data: bytes) -> bytes:
        return bytes(64) if name.endswith("/manifest.sig") else data

    verify_and_store(job, forge_package(rtcc_db, job, closing, bad_sig))
    assert_alert(job, "manifest.sig does not verify with the box's enrolled key")


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("signing_key_fingerprint", "ab" * 32, "names a signing key that is not"),
        ("box_id", "box-18", "is from box 'box-18'"),
        ("case_number", "26-999999", "window or case number is not the request's"),
        ("requested_window", {"start": "2026-11-24T13:00:00Z"}, "window or case number"),
    ],
)
def test_a_manifest_signed_by_the_box_key_for_something_else(world, rtcc_db, field, value, words):
    job, closing = uploaded(world, rtcc_db)
    key = ensure_signing_key()
    manifest: dict = {}

    def other(name: str, data: bytes) -> bytes:
        if name.endswith("/manifest.json"):
            manifest.update(json.loads(data) | {field: value})
            return json.dumps(manifest).encode()
        if name.endswith("/manifest.sig"):  # members come in order: manifest.json first
            return key.sign(json.dumps(manifest).encode())
        return data

    verify_and_store(job, forge_package(rtcc_db, job, closing, other))
    assert manifest, "the package had no manifest.json before its manifest.sig"
    assert_alert(job, words)


@pytest.mark.parametrize("field", ["sha256", "chain_hash", "prev_chain_hash"])
def test_a_signed_segment_document_that_differs_from_the_package(world, rtcc_db, field):
    job, closing = uploaded(world, rtcc_db)
    for doc in rtcc_db.segments.find({}):
        rtcc_db.segments.replace_one({"_id": doc["_id"]}, resigned(doc, **{field: "0" * 64}))
    verify_and_store(job, closing)
    assert_alert(job, f"the package says {field}")


def test_an_unsigned_exports_document(world, rtcc_db):
    job, closing = uploaded(world, rtcc_db)
    export = rtcc_db.exports.find_one({"_id": closing["export"]})
    rtcc_db.exports.replace_one(
        {"_id": export["_id"]}, {k: v for k, v in export.items() if k != "sig"}
    )
    verify_and_store(job, closing)
    assert_alert(job, f"exports document {closing['export']} is not signed by the enrolled key")


def test_an_assembled_package_that_is_not_the_box_s(world, rtcc_db):
    job, closing = uploaded(world, rtcc_db)
    data = bytearray(package_bytes(rtcc_db, job))
    data[len(data) // 2] ^= 0xFF  # same size, same chunk count, each chunk's own hash right
    verify_and_store(job, upload_instead(rtcc_db, job, closing, bytes(data)))
    assert_alert(job, "the assembled package's SHA-256 is")


def test_a_source_still_recorded_at_export_is_proved_by_the_box_s_prefix_check(
    world, rtcc_db, tmp_path
):
    """Stated as not yet proved while the segment is open (no alert); proved by the closed
    segment once the box's signed prefix_check is there; a check that found other bytes, or
    states another prefix, is an integrity problem."""
    camera = LocalCamera.objects.get(name="North")
    last = Segment.objects.filter(camera=camera).order_by("sequence").last()
    path, package = export_into_open_segment(camera, last, tmp_path / "out")
    manifest = manifest_of(package)
    assert sender.send_pending(force=True).ok
    key = ensure_signing_key().public_key
    checks = check_segments(manifest, "test-box", key)
    assert checks[0] == "1 source segment(s) match their replicated documents"  # #3
    assert checks[1].startswith("North ") and checks[1].endswith(
        "not yet proved: its segment is still open"
    )

    closed = index_segment(camera, path, start=last.end)
    assert sender.send_pending(force=True).ok
    checks = check_segments(manifest, "test-box", key)
    assert checks[1].endswith(f"proved by the closed segment #4 (SHA-256 {closed.sha256})")

    [doc] = rtcc_db.prefix_checks.find({})
    rtcc_db.prefix_checks.replace_one({"_id": doc["_id"]}, resigned(doc, result="mismatch"))
    with pytest.raises(Problem, match="does not begin with the exported bytes"):
        check_segments(manifest, "test-box", key)
    rtcc_db.prefix_checks.replace_one({"_id": doc["_id"]}, resigned(doc, prefix_sha256="e" * 64))
    with pytest.raises(Problem, match="the box's prefix check states"):
        check_segments(manifest, "test-box", key)
    rtcc_db.prefix_checks.replace_one({"_id": doc["_id"]}, resigned(doc, segment_sha256="e" * 64))
    with pytest.raises(Problem, match="the prefix check names segment"):
        check_segments(manifest, "test-box", key)
