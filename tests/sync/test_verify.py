"""verify_remote and verify_evidence --rtcc against a real MongoDB-protocol server."""

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from crimebox.signature import sign
from recordings.index import index_segment
from recordings.models import Segment
from sync import sender
from sync.outbox import signing_key
from tests.factories import make_camera, make_segments
from tests.sync.clips import export_into_open_segment

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def run(*args, **kw) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, **kw)
    except SystemExit as e:
        return e.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def replicated(rtcc, db):
    camera = make_camera("North")
    segments = make_segments(camera, T0, 3)
    assert sender.send_pending().ok
    return camera, segments


def test_verify_remote_passes_then_names_each_difference(replicated, rtcc_db):
    camera, segments = replicated
    code, out = run("verify_remote")
    assert code == 0, out
    assert "3 segments compared, 0 problem(s)" in out
    # Altered at the datacenter, missing there, and there but gone here.
    rtcc_db.segments.update_one(
        {"_id": f"test-box:segment:{camera.pk}:2"}, {"$set": {"sha256": "e" * 64}}
    )
    rtcc_db.segments.delete_one({"_id": f"test-box:segment:{camera.pk}:3"})
    rtcc_db.segments.insert_one(
        {
            "_id": f"test-box:segment:{camera.pk}:9",
            "box": "test-box",
            "camera": "North",
            "file": "x",
        }
    )
    signed_elsewhere = {**rtcc_db.segments.find_one({"_id": f"test-box:segment:{camera.pk}:1"})}
    signed_elsewhere["_id"] = f"test-box:segment:{camera.pk}:8"
    signed_elsewhere.pop("sig")
    rtcc_db.segments.insert_one(sign(signed_elsewhere, signing_key()))  # the box's, gone here
    code, out = run("verify_remote", "--json")
    assert code == 1
    problems = {(p["problem"], p["what"].split(" (")[0]) for p in json.loads(out)["problems"]}
    assert problems == {
        ("different_there", "North segment #2"),
        ("not_signed_there", "North segment #2"),  # altered there: the signature fails too
        ("missing_there", "North segment #3"),
        ("not_signed_there", f"test-box:segment:{camera.pk}:9"),  # planted
        ("gone_here", f"North cam{camera.pk:04d}/2026-11-24/20261124T140000Z.mp4"),
    }


@pytest.mark.parametrize(
    "change",
    [
        {"camera": "Elsewhere"},
        {"status": "partial"},
        {"on_hold": True},
        "clock",
        {"start": datetime(2026, 11, 24, 11, 0, tzinfo=UTC)},
        {"sig": {"alg": "ed25519", "key": "0" * 64, "value": "garbage"}},
    ],
    ids=["camera", "status", "hold", "clock", "start-date", "garbage-signature"],
)
def test_verify_remote_checks_each_document_with_the_box_key(replicated, rtcc_db, change):
    """Fields the comparison does not read are still covered: by the box's signature."""
    camera, segments = replicated
    doc_id = f"test-box:segment:{camera.pk}:2"
    if change == "clock":  # the flag turned, whichever way it was
        change = {"clock_synced": not rtcc_db.segments.find_one({"_id": doc_id})["clock_synced"]}
    rtcc_db.segments.update_one({"_id": doc_id}, {"$set": change})
    code, out = run("verify_remote")
    assert code == 1, out
    assert "NOT_SIGNED_THERE: North segment #2" in out


def test_verify_remote_accepts_the_box_document_under_its_alternate_id(replicated, rtcc_db):
    """A squatted id (the box's document delivered as <_id>~1): the segment is there, the
    planted document at <_id> is named."""
    camera, segments = replicated
    doc_id = f"test-box:segment:{camera.pk}:2"
    mine = rtcc_db.segments.find_one({"_id": doc_id})
    from sync.duplicates import alternate

    rtcc_db.segments.delete_one({"_id": doc_id})
    rtcc_db.segments.insert_one({**mine, "sha256": "e" * 64})  # planted, not the box's
    rtcc_db.segments.insert_one(alternate(mine, 1))
    code, out = run("verify_remote")
    assert code == 1
    assert "NOT_SIGNED_THERE: North segment #2" in out and f"{doc_id}~1" in out
    assert "MISSING_THERE" not in out and "DIFFERENT_THERE" not in out


def test_verify_remote_catches_a_changed_time(replicated, rtcc_db):
    camera, segments = replicated
    rtcc_db.segments.update_one(
        {"_id": f"test-box:segment:{camera.pk}:1"},
        {"$set": {"start_exact": "2026-11-24T13:00:00.000000Z"}},
    )
    code, out = run("verify_remote", "--camera", "North")
    assert code == 1 and "DIFFERENT_THERE: North segment #1" in out and "start_exact" in out


def test_verify_remote_unknown_camera_is_a_clear_error(replicated):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no camera named"):
        call_command("verify_remote", "--camera", "Nope")


def box_key() -> str:
    return signing_key().fingerprint


def package(tmp_path) -> Path:
    out = io.StringIO()
    call_command(
        "export_clip",
        "--camera",
        "North",
        "--start",
        (T0 + timedelta(seconds=1)).isoformat(),
        "--end",
        (T0 + timedelta(seconds=9)).isoformat(),
        "--case",
        "26-1",
        "--reason",
        "test",
        "--out",
        str(tmp_path),
        stdout=out,
    )
    return Path(out.getvalue().strip())


def test_verify_evidence_against_the_datacenter(replicated, rtcc, rtcc_db, tmp_path):
    camera, segments = replicated
    path = package(tmp_path)
    code, out = run("verify_evidence", str(path), "--rtcc", rtcc.uri, "--fingerprint", box_key())
    assert code == 0, out
    assert "3 source segment(s) compared with the datacenter" in out
    # The URI can come from standard input (no password in the process list).
    code, out = run(
        "verify_evidence",
        str(path),
        "--rtcc",
        "-",
        "--fingerprint",
        box_key(),
        stdin=io.StringIO(rtcc.uri + "\n"),
    )
    assert code == 0, out
    rtcc_db.segments.update_one(
        {"_id": f"test-box:segment:{camera.pk}:2"}, {"$set": {"chain_hash": "d" * 64}}
    )
    code, out = run("verify_evidence", str(path), "--rtcc", rtcc.uri, "--fingerprint", box_key())
    assert code == 1
    assert "datacenter: North segment #2" in out and "chain_hash" in out
    assert "not signed by the box key" in out  # the altered document's signature fails too


def test_verify_evidence_refuses_a_key_the_box_never_registered(
    replicated, rtcc, rtcc_db, tmp_path
):
    path = package(tmp_path)
    rtcc_db.boxes.delete_many({})
    code, out = run("verify_evidence", str(path), "--rtcc", rtcc.uri, "--fingerprint", box_key())
    assert code == 1 and "is not a key box test-box registered" in out


def test_verify_evidence_names_a_segment_never_replicated(replicated, rtcc, rtcc_db, tmp_path):
    rtcc_db.segments.delete_one({"sequence": 3})
    path = package(tmp_path)
    code, out = run("verify_evidence", str(path), "--rtcc", rtcc.uri, "--fingerprint", box_key())
    assert code == 1 and "North segment #3" in out and "no document" in out
    assert Segment.objects.count() == 3


def test_verify_evidence_rtcc_requires_the_enrolled_fingerprint(replicated, rtcc, tmp_path):
    from django.core.management.base import CommandError

    path = package(tmp_path)
    with pytest.raises(CommandError, match="--rtcc needs --fingerprint"):
        call_command("verify_evidence", str(path), "--rtcc", rtcc.uri, stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a key fingerprint"):
        call_command(
            "verify_evidence",
            str(path),
            "--rtcc",
            rtcc.uri,
            "--fingerprint",
            "abc",
            stdout=io.StringIO(),
        )


def forge(path: Path, tmp_path: Path, key) -> Path:
    """What an attacker did with one box's datacenter login: the package's camera renamed, its
    times moved 3 h, sequences moved past the real ones, chains recomputed, re-signed with
    another key; that key registered as a second `boxes` document; segment documents signed
    by it planted at the new ids."""
    import zipfile

    from cryptography.hazmat.primitives import serialization

    from crimebox.keys import fingerprint_of
    from recordings.evidence.hashing import segment_chain_hash
    from recordings.evidence.verify import _parse, package_members

    with zipfile.ZipFile(path) as z:
        members = package_members(z)
        manifest = json.loads(z.read(members["manifest.json"]))
        contents = {info.filename: z.read(info) for info in z.infolist()}
    prev = None
    for seg in manifest["source_segments"]:
        seg["camera"], seg["sequence"] = "Forged", seg["sequence"] + 100
        for k in ("start", "end"):
            seg[k] = (_parse(seg[k]) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        seg["prev_chain_hash"] = prev or seg["prev_chain_hash"]
        seg["chain_hash"] = prev = segment_chain_hash(
            camera_id=seg["camera_id"],
            sequence=seg["sequence"],
            prev=seg["prev_chain_hash"],
            sha256=seg["sha256"],
            start=_parse(seg["start"]),
            end=_parse(seg["end"]),
            size=seg["size"],
        )
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    manifest["signing_key_fingerprint"] = fingerprint_of(key.public_key())
    if "box_public_key.pem" in manifest.get("files", {}):
        manifest["files"]["box_public_key.pem"] = hashlib.sha256(pem).hexdigest()
    data = json.dumps(manifest).encode()
    replaced = {"manifest.json": data, "manifest.sig": key.sign(data), "box_public_key.pem": pem}
    if "SHA256SUMS.sig" in {n.split("/", 1)[-1] for n in contents}:  # v2: the thief re-signs it too
        from recordings.evidence.manifest import signed_sums

        replaced |= signed_sums(manifest["files"], replaced, key)
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as z:
        for name, content in contents.items():
            inner = name.split("/", 1)[-1]
            z.writestr(name, replaced.get(inner, content))
    return forged


def test_a_key_planted_with_the_box_login_verifies_nothing(replicated, rtcc, rtcc_db, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crimebox.keys import SigningKey
    from recordings.evidence.verify import verify_package
    from sync.documents import box_doc, segment_key

    camera, segments = replicated
    thief = SigningKey(Ed25519PrivateKey.generate())
    forged = forge(package(tmp_path), tmp_path, thief.private_key)
    assert verify_package(forged).ok  # offline it is a well-formed package of the thief's key
    rtcc_db.boxes.insert_one(sign(box_doc(thief, first_seen=T0), thief))
    manifest_segments = json.loads(
        next(
            z.read(n)
            for z in [__import__("zipfile").ZipFile(forged)]
            for n in z.namelist()
            if n.endswith("manifest.json")
        )
    )["source_segments"]
    for seg in manifest_segments:
        doc_id = f"test-box:segment:{segment_key(seg['camera_id'], seg['sequence'])}"
        planted = {"_id": doc_id, "box": "test-box", "schema": 1, "kind": "segment", **seg}
        planted.pop("id")
        rtcc_db.segments.insert_one(sign(planted, thief))
    code, out = run("verify_evidence", str(forged), "--rtcc", rtcc.uri, "--fingerprint", box_key())
    assert code == 1, out
    assert f"the package is signed by key {thief.fingerprint}" in out
    assert "not signed by the box key" in out
    assert "package verified" not in out


def test_verify_evidence_rtcc_proves_a_prefix_once_the_box_checked_it(
    replicated, rtcc, rtcc_db, tmp_path
):
    """Footage still being recorded at export: stated as not yet proved (no failure) until the
    box's signed prefix_check arrives, then proved by the closed segment; a check that says
    the closed file begins with other bytes fails the package."""
    camera, segments = replicated
    path, package_path = export_into_open_segment(camera, segments[-1], tmp_path / "out")
    assert sender.send_pending().ok
    args = ("verify_evidence", str(package_path), "--rtcc", rtcc.uri, "--fingerprint", box_key())
    code, out = run(*args)
    assert code == 0, out
    assert "NOTE    datacenter: North" in out and "not yet proved: its segment is still open" in out

    closed = index_segment(camera, path, start=segments[-1].end)
    assert sender.send_pending().ok
    code, out = run(*args)
    assert code == 0, out
    assert f"proved by the closed segment #4 (SHA-256 {closed.sha256})" in out
    assert "not yet proved" not in out

    [doc] = rtcc_db.prefix_checks.find({})
    body = {k: v for k, v in doc.items() if k != "sig"}  # re-signed: the box itself says so
    rtcc_db.prefix_checks.replace_one(
        {"_id": doc["_id"]}, sign(body | {"result": "mismatch"}, signing_key())
    )
    code, out = run(*args)
    assert code == 1 and "does not begin with the exported bytes" in out
    rtcc_db.prefix_checks.replace_one(
        {"_id": doc["_id"]}, sign(body | {"prefix_sha256": "e" * 64}, signing_key())
    )
    code, out = run(*args)
    assert code == 1 and "the box's prefix check states" in out
