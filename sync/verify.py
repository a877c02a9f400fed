"""Checking footage against the datacenter's copy (the court's reason for replication).

`verify_remote`: every local chained segment against its document at the RTCC.
`verify_package_remote`: an evidence package's source segments and signing key against what
the box registered there; needs no box database, so a defence expert can run it.
"""

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings

from cameras.models import Camera
from crimebox import outbox
from crimebox.signature import verify
from crimebox.utc import utc_iso
from recordings.models import Segment

from . import remote
from .documents import segment_key


@dataclass
class RemoteCheck:
    checked: int = 0
    problems: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, what: str, detail: str) -> None:
        self.problems.append({"problem": kind, "what": what, "detail": detail})


def _compare(segment: Segment, doc: dict) -> list[str]:
    expected = {
        "sha256": segment.sha256,
        "chain_hash": segment.chain_hash,
        "start_exact": utc_iso(segment.start),
        "end_exact": utc_iso(segment.end),
        "size": segment.size,
    }
    return [
        f"{k} is {doc.get(k)!r} there, {v!r} here" for k, v in expected.items() if doc.get(k) != v
    ]


def verify_remote(camera: Camera | None = None, *, uri: str | None = None) -> RemoteCheck:
    """Missing there, different there, or there but gone here: each named."""
    result = RemoteCheck()
    box = settings.BOX_ID
    segments = Segment.objects.chained().select_related("camera").order_by("camera", "sequence")
    query = {"box": box}
    if camera is not None:
        segments = segments.filter(camera=camera)
        query["camera_id"] = camera.pk
    local = {f"{box}:{outbox.SEGMENT}:{segment_key(s.camera_id, s.sequence)}": s for s in segments}
    stored = remote.by_ids("segments", list(local), uri=uri)
    for doc_id, segment in local.items():
        result.checked += 1
        name = f"{segment.camera.name} segment #{segment.sequence} ({segment.path})"
        doc = stored.get(doc_id)
        if doc is None:
            result.add("missing_there", name, f"no document {doc_id} at the datacenter")
            continue
        for difference in _compare(segment, doc):
            result.add("different_there", name, difference)
    there = remote.find("segments", query, uri=uri, projection={"_id": 1, "camera": 1, "file": 1})
    for doc in there:
        if doc["_id"] not in local:
            result.add(
                "gone_here",
                f"{doc.get('camera')} {doc.get('file')}",
                f"{doc['_id']} is at the datacenter but not in this box's index",
            )
    return result


def verify_package_remote(package: str | Path, *, uri: str, db: str) -> RemoteCheck:
    """Every source segment of the manifest at the datacenter with the same SHA-256 and chain
    hash (and a valid box signature); the package's key the one that box registered."""
    import json

    from recordings.evidence.verify import _members

    result = RemoteCheck()
    with zipfile.ZipFile(package) as z:
        members = _members(z)
        manifest = json.loads(z.read(members["manifest.json"]))
        key_pem = z.read(members["box_public_key.pem"])
    box, fingerprint = manifest.get("box_id"), manifest.get("signing_key_fingerprint")
    registered = remote.find("boxes", {"box": box}, uri=uri, db=db)
    keys = {d.get("fingerprint"): d for d in registered}
    if fingerprint not in keys:
        result.add(
            "key_not_registered",
            f"box {box}",
            f"signing key {fingerprint} is not a key box {box} registered at the datacenter "
            f"(registered: {', '.join(sorted(k for k in keys if k)) or 'none'})",
        )
        public_key = load_pem_public_key(key_pem)
    else:
        public_key = load_pem_public_key(keys[fingerprint]["public_key_pem"].encode())
    if not isinstance(public_key, Ed25519PublicKey):
        result.add("bad_key", f"box {box}", "the signing key is not an Ed25519 key")
        return result
    # Footage still being recorded at export has no segment document until it closes.
    sources = [s for s in manifest.get("source_segments", []) if s.get("sequence") is not None]
    ids = [f"{box}:{outbox.SEGMENT}:{segment_key(s['camera_id'], s['sequence'])}" for s in sources]
    stored = remote.by_ids("segments", ids, uri=uri, db=db)
    for doc_id, seg in zip(ids, sources, strict=True):
        result.checked += 1
        name = f"{seg.get('camera')} segment #{seg['sequence']} ({seg.get('file')})"
        doc = stored.get(doc_id)
        if doc is None:
            result.add("missing_there", name, f"no document {doc_id} at the datacenter")
            continue
        for k in ("sha256", "chain_hash"):
            if doc.get(k) != seg.get(k):
                result.add(
                    "different_there",
                    name,
                    f"{k} is {doc.get(k)!r} there, {seg.get(k)!r} in the package",
                )
        if not verify(doc, public_key):
            result.add(
                "bad_signature", name, "the datacenter's document is not signed by the box key"
            )
    return result
