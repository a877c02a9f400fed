"""A box's uploaded package, assembled and verified by the console before anyone may have it.

Nothing the box says is taken on trust beyond its enrolled key: the chunks are read back in
bounded batches and checked one by one against the closing document (never their order or
count); the package's SHA-256 must be the one in the box's signed `exports` document; the
manifest's signature must verify with the ENROLLED key; every source segment's SHA-256 and
chain hashes must match the segment documents the box replicated long before. Only then is the
package moved into the evidence store (read-only, its SHA-256 and the report beside it) and
its chunks removed from MongoDB; anything else is an integrity alert and the package is kept
aside in the quarantine directory, never offered.
"""

import hashlib
import json
import logging
import os
import zipfile
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.utils import timezone

from crimebox import retrieval as proto
from crimebox.atomic import move_atomic, write_atomic
from crimebox.keys import fingerprint_of
from crimebox.signature import verify, verify_bytes

from . import retrieval_mongo as mongo
from .models import Alert, Box, ClipJob

logger = logging.getLogger(__name__)


class Problem(Exception):
    """Why the package cannot be offered (an integrity alert)."""


class NotYet(Exception):
    """Something the verification needs has not reached the datacenter yet."""


def evidence_dir() -> Path:
    return Path(settings.RTCC_EVIDENCE_DIR or Path(settings.DATA_DIR) / "evidence")


def quarantine_dir() -> Path:
    return Path(settings.DATA_DIR) / "evidence-quarantine"


def verify_and_store(job: ClipJob, closing: dict) -> ClipJob:
    ClipJob.objects.filter(pk=job.pk).update(state=ClipJob.State.VERIFYING)
    key = _enrolled(job.box_id)
    report: dict = {"request": job.request, "box": job.box_id, "checks": []}
    quarantine_dir().mkdir(parents=True, exist_ok=True)
    partial = quarantine_dir() / f".{job.request}.partial"
    try:
        expected = check_closing(job, closing, key, report)
        sha256 = assemble(proto.package_id(job.box_id, job.request), expected, partial)
        report["checks"].append(f"assembled {expected['chunks']} chunk(s), SHA-256 {sha256}")
        if sha256 != expected["package_sha256"]:
            raise Problem(f"the assembled package's SHA-256 is {sha256}, not the box's")
        check_package(partial, job, key, report)
        return store(job, partial, sha256, expected, report)
    except NotYet as e:
        report["waiting"] = str(e)
        ClipJob.objects.filter(pk=job.pk).update(report=report)
        job.refresh_from_db()
        return job
    except Problem as e:
        return alert(job, str(e), partial, report)


def _enrolled(box_id: str) -> Ed25519PublicKey:
    from .retrieval import box_key

    key = box_key(box_id)
    if key is None:
        raise Problem(f"box {box_id} has no enrolled key")
    return key


def check_closing(job: ClipJob, closing: dict, key: Ed25519PublicKey, report: dict) -> dict:
    """The closing document against the box's `exports` document (both signed by the box)."""
    size, chunks = closing.get("size"), closing.get("chunks")
    if not isinstance(size, int) or not isinstance(chunks, int) or size <= 0 or chunks <= 0:
        raise Problem("the closing document has no valid size or chunk count")
    if closing.get("package") != proto.package_id(job.box_id, job.request):
        raise Problem(f"the closing document names package {closing.get('package')!r}")
    export_id = str(closing.get("export", ""))
    if not export_id.startswith(f"{job.box_id}:export:"):
        raise Problem(f"the closing document names export {export_id!r} of another box")
    export = signed_document("exports", export_id, key)
    if export.get("box") != job.box_id:
        raise Problem(f"the exports document {export_id} is from box {export.get('box')!r}")
    for field in ("package_sha256", "size"):
        if export.get(field) != closing.get(field):
            raise Problem(
                f"the closing document's {field} ({closing.get(field)}) is not the one in the "
                f"box's exports document ({export.get(field)})"
            )
    report["checks"].append(f"closing document matches the signed exports document {export_id}")
    report["export"] = export_id
    return {"size": size, "chunks": chunks, "package_sha256": str(export["package_sha256"])}


def assemble(package: str, expected: dict, dest: Path) -> str:
    """The chunks, n = 0, 1, ... each checked, into `dest`; the package's SHA-256."""
    digest, written, n = hashlib.sha256(), 0, 0
    with dest.open("wb") as f:
        for doc in mongo.chunks(package):
            if doc.get("n") != n:
                raise Problem(
                    f"chunk {n} is missing"
                    if isinstance(doc.get("n"), int) and doc["n"] > n
                    else f"chunk {doc.get('n')!r} is duplicated or out of place"
                )
            problem = proto.chunk_problem(doc, package, n)
            if problem:
                raise Problem(problem)
            written += len(doc["data"])
            if written > expected["size"] or n >= expected["chunks"]:
                raise Problem(
                    f"the chunks hold more than the {expected['size']} bytes in "
                    f"{expected['chunks']} chunk(s) the closing document says"
                )
            f.write(doc["data"])
            digest.update(doc["data"])
            n += 1
        f.flush()
        os.fsync(f.fileno())
    if n != expected["chunks"] or written != expected["size"]:
        raise Problem(
            f"{n} chunk(s) and {written} bytes at the datacenter; the closing document says "
            f"{expected['chunks']} and {expected['size']}"
        )
    return digest.hexdigest()


def check_package(path: Path, job: ClipJob, key: Ed25519PublicKey, report: dict) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("/manifest.json")]
            if len(names) != 1:
                raise Problem("the package has no single manifest.json")
            top = names[0][: -len("manifest.json")]
            data = z.read(names[0])
            sig_name = top + "manifest.sig"
            signature = z.read(sig_name) if sig_name in z.namelist() else b""
            if not verify_bytes(data, signature, key):
                raise Problem("manifest.sig does not verify with the box's enrolled key")
            manifest = json.loads(data)
            report["checks"].append("manifest signature verifies with the enrolled key")
            check_manifest(manifest, job, key)
            for name, sha in manifest.get("files", {}).items():
                with z.open(top + name) as member:
                    # A zip member has readinto(), all file_digest uses; typeshed wants more.
                    digest = hashlib.file_digest(member, "sha256")  # type: ignore[arg-type]
                    if digest.hexdigest() != sha:
                        raise Problem(f"{name} in the package does not match its manifest hash")
            report["checks"].append(f"{len(manifest.get('files', {}))} file(s) match the manifest")
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise Problem(f"the package cannot be read: {e}") from None
    report["checks"] += check_segments(manifest, job.box_id, key)


def check_manifest(manifest: dict, job: ClipJob, key: Ed25519PublicKey) -> None:
    if manifest.get("signing_key_fingerprint") != fingerprint_of(key):
        raise Problem("the manifest names a signing key that is not the box's enrolled key")
    if manifest.get("box_id") != job.box_id:
        raise Problem(f"the manifest is from box {manifest.get('box_id')!r}")
    window = manifest.get("requested_window") or {}
    asked = (job.start, job.end)
    got = tuple(_when(window.get(k)) for k in ("start", "end"))
    if got != asked or manifest.get("case_number") != job.case_number:
        raise Problem("the manifest's window or case number is not the request's")


def _when(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def signed_document(collection: str, doc_id: str, key: Ed25519PublicKey) -> dict:
    """The box's document `doc_id`, under its `_id` or an alternate: only one signed by the
    enrolled key counts, so a document another login planted first cannot stand in for it."""
    docs = mongo.under_id(collection, doc_id)
    if not docs:
        raise NotYet(f"{collection} document {doc_id} is not at the datacenter yet")
    for doc in docs:
        if _signed(doc, key):
            return doc
    raise Problem(f"{collection} document {doc_id} is not signed by the enrolled key")


def _signed(doc: dict, key: Ed25519PublicKey) -> bool:
    try:
        return verify(doc, key)
    except (TypeError, ValueError, AttributeError, KeyError):
        return False  # not even well formed: the box's key cannot have signed it


def check_segments(manifest: dict, box_id: str, key: Ed25519PublicKey) -> list[str]:
    """Every source segment against the signed document the box replicated when it closed;
    one still being recorded at export against the box's signed check of its prefix."""
    entries = manifest.get("source_segments") or []
    if not entries:
        raise Problem("the manifest lists no source segments")
    closed = [e for e in entries if "recorded_prefix" not in e]
    opened = [e for e in entries if "recorded_prefix" in e]
    for entry in closed:
        doc_id = f"{box_id}:segment:{entry.get('camera_id')}:{entry.get('sequence')}"
        doc = signed_document("segments", doc_id, key)
        for field in ("sha256", "chain_hash", "prev_chain_hash", "size"):
            if doc.get(field) != entry.get(field):
                raise Problem(
                    f"segment {doc_id}: the package says {field} {entry.get(field)!r}, the "
                    f"datacenter's document {doc.get(field)!r}"
                )
    checks = [f"{len(closed)} source segment(s) match their replicated documents"]
    return checks + [check_prefix(entry, box_id, key) for entry in opened]


def check_prefix(entry: dict, box_id: str, key: Ed25519PublicKey) -> str:
    """The exported bytes [0, end_byte) of a segment still open at export: proved once the box
    has checked them against the closed file and replicated that (a signed `prefix_check`),
    stated as not yet proved before; a check that found other bytes is an integrity problem."""
    prefix = entry.get("recorded_prefix")
    if not isinstance(prefix, dict):
        raise Problem(f"source {entry.get('file')!r}: recorded_prefix is not an object")
    end_byte, sha256 = prefix.get("end_byte"), prefix.get("sha256")
    name = f"{entry.get('camera')} {entry.get('file')} (bytes 0-{end_byte}, recorded at export)"
    doc_id = f"{box_id}:prefix_check:{entry.get('id')}:{end_byte}:{sha256}"
    docs = mongo.under_id("prefix_checks", doc_id)
    if not docs:
        return f"{name}: not yet proved: its segment is still open"
    doc = next((d for d in docs if _signed(d, key)), None)
    if doc is None:
        raise Problem(f"prefix_checks document {doc_id} is not signed by the enrolled key")
    stated = (doc.get("path"), doc.get("end_byte"), doc.get("prefix_sha256"))
    if stated != (entry.get("path"), end_byte, sha256):
        raise Problem(f"{name}: the box's prefix check states {stated!r}")
    if doc.get("result") != "ok":
        raise Problem(
            f"{name}: the closed segment #{doc.get('sequence')} does not begin with the "
            f"exported bytes (the box found SHA-256 {doc.get('found_sha256')!r})"
        )
    seg_id = f"{box_id}:segment:{doc.get('camera_id')}:{doc.get('sequence')}"
    segment = signed_document("segments", seg_id, key)
    if segment.get("sha256") != doc.get("segment_sha256"):
        raise Problem(
            f"{name}: the prefix check names segment {seg_id} with SHA-256 "
            f"{doc.get('segment_sha256')}, the datacenter's document {segment.get('sha256')}"
        )
    return f"{name}: proved by the closed segment #{doc['sequence']} (SHA-256 {segment['sha256']})"


def store(job: ClipJob, partial: Path, sha256: str, expected: dict, report: dict) -> ClipJob:
    """Into the evidence store, read-only, the report beside it; then the chunks go.

    Write-once: a pass that died after the package was stored (the job row not updated yet)
    finds it there with the same SHA-256 and only finishes the row; nothing stored is rewritten.
    """
    folder = evidence_dir() / job.box_id
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{job.request}.zip"
    if final.exists():
        with final.open("rb") as f:
            there = hashlib.file_digest(f, "sha256").hexdigest()
        if there != sha256:
            raise Problem(f"the evidence store already holds another {final.name} ({there})")
        partial.unlink(missing_ok=True)
    else:
        move_atomic(partial, final)  # the store may be a mount of its own
    # Read-only last (WORM storage commits a file when it is made read-only); again on a pass
    # that finishes one a killed pass left writable.
    final.chmod(0o444)
    report |= {"verified_at": timezone.now().isoformat(), "package_sha256": sha256}
    side = folder / f"{job.request}.verification.json"
    if side.exists():  # whole or absent: written beside it, then renamed
        report = json.loads(side.read_text())
    else:
        write_atomic(side, json.dumps(report, indent=2, sort_keys=True) + "\n")
    side.chmod(0o444)
    ClipJob.objects.filter(pk=job.pk).update(
        state=ClipJob.State.READY,
        path=str(final),
        package_sha256=sha256,
        package_size=expected["size"],
        chunks_received=expected["chunks"],
        chunks_total=expected["chunks"],
        bytes_received=expected["size"],
        report=report,
        finished_at=timezone.now(),
    )
    removed = mongo.remove_chunks(proto.package_id(job.box_id, job.request))
    logger.info("clip %s verified and stored (%s); %d chunk(s) removed", job, final, removed)
    job.refresh_from_db()
    return job


def alert(job: ClipJob, problem: str, partial: Path, report: dict) -> ClipJob:
    kept = quarantine_dir() / f"{job.request}.zip"
    if partial.exists():
        os.replace(partial, kept)
        kept.chmod(0o444)
    report["problem"] = problem
    box = Box.objects.get(box_id=job.box_id)
    Alert.objects.get_or_create(
        key=f"integrity:{job.box_id}::rtcc request {job.request}",
        resolved_at=None,
        defaults={
            "kind": Alert.Kind.INTEGRITY,
            "box": box,
            "subject": f"rtcc request {job.request}",
            "message": f"Clip package of request {job.request} not offered: {problem}",
        },
    )
    ClipJob.objects.filter(pk=job.pk).update(
        state=ClipJob.State.ALERT,
        problem=problem[:2000],
        path=str(kept) if kept.exists() else "",
        report=report,
        finished_at=timezone.now(),
    )
    logger.critical("clip %s: integrity alert: %s", job, problem)
    job.refresh_from_db()
    return job
