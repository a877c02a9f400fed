"""Checking footage against the datacenter's copy (the court's reason for replication).

`verify_remote`: every local chained segment against its document at the RTCC, every document
checked with the box's own key; the datacenter's documents are streamed (bounded memory).
`verify_package_remote`: an evidence package's source segments against the datacenter, trusting
only the key whose fingerprint the caller names (the one the RTCC enrolled for that box), never
whichever `boxes` document is there: anyone holding a box's login can add one (docs/sync.md,
"Trust"). Needs no box database, so a defence expert can run it.
"""

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings

from cameras.models import Camera
from crimebox import outbox
from crimebox.alternates import base_id, candidate_ids
from crimebox.keys import fingerprint_of, public_key_from_pem
from crimebox.utc import utc_iso
from recordings.models import Segment

from . import remote
from .documents import prefix_key, segment_key
from .duplicates import signed_by
from .outbox import signing_key

LISTED = 1000  # problems listed in one answer; beyond, they are only counted
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class RemoteCheck:
    checked: int = 0
    problems: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    proved: list[str] = field(default_factory=list)  # exported prefixes of open segments
    notes: list[str] = field(default_factory=list)  # what cannot be judged yet (no problem)

    @property
    def ok(self) -> bool:
        return not self.counts

    @property
    def unlisted(self) -> int:
        return sum(self.counts.values()) - len(self.problems)

    def add(self, kind: str, what: str, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.problems) < LISTED:
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


@dataclass
class _Seen:
    """What the datacenter holds for one local segment (kept small: bounded by local rows)."""

    signed: list[str] = field(default_factory=list)  # differences of the box's signed copy
    signed_id: str = ""
    unsigned: dict[str, list[str]] = field(default_factory=dict)  # _id -> its differences


def _segment_name(segment: Segment) -> str:
    return f"{segment.camera.name} segment #{segment.sequence} ({segment.path})"


def verify_remote(camera: Camera | None = None, *, uri: str | None = None) -> RemoteCheck:
    """Missing there, different there, not signed by this box, or there but gone here."""
    result, key, box = RemoteCheck(), signing_key().public_key, settings.BOX_ID
    segments = Segment.objects.chained().select_related("camera").order_by("camera", "sequence")
    query: dict[str, Any] = {"box": box}
    if camera is not None:
        segments = segments.filter(camera=camera)
        query["camera_id"] = camera.pk
    # chained(): every one has its sequence number.
    local = {
        f"{box}:{outbox.SEGMENT}:{segment_key(s.camera_id, cast(int, s.sequence))}": s
        for s in segments
    }
    seen: dict[str, _Seen] = {}
    for doc in remote.stream("segments", query, uri=uri):
        _look_at(doc, local, seen, key, result)
    for doc_id, segment in local.items():
        result.checked += 1
        _judge(_segment_name(segment), doc_id, seen.get(doc_id), result)
    return result


def _look_at(doc: dict, local: dict, seen: dict[str, _Seen], key: Any, result: RemoteCheck) -> None:
    doc_id = doc.get("_id")
    if not isinstance(doc_id, str):
        result.add("malformed_there", repr(doc_id)[:100], "a document whose _id is not text")
        return
    base = base_id(doc_id)
    mine = signed_by(doc, key)
    segment = local.get(base)
    if segment is None:
        if mine:
            result.add(
                "gone_here",
                f"{doc.get('camera')} {doc.get('file')}",
                f"{doc_id} is at the datacenter but not in this box's index",
            )
        else:
            result.add("not_signed_there", doc_id[:300], "not signed by this box's key (planted)")
        return
    entry = seen.setdefault(base, _Seen())
    if mine and not entry.signed_id:
        entry.signed_id, entry.signed = doc_id, _compare(segment, doc)
    elif not mine:
        entry.unsigned[doc_id] = _compare(segment, doc)


def _judge(name: str, doc_id: str, entry: "_Seen | None", result: RemoteCheck) -> None:
    if entry is None:
        result.add("missing_there", name, f"no document {doc_id} at the datacenter")
        return
    if entry.signed_id:
        for difference in entry.signed:
            result.add("different_there", name, difference)
        for other in entry.unsigned:
            result.add(
                "not_signed_there",
                name,
                f"{other} is not signed by this box's key (planted); the box's document "
                f"is {entry.signed_id}",
            )
        return
    for other, differences in entry.unsigned.items():
        for difference in differences:
            result.add("different_there", name, difference)
        result.add("not_signed_there", name, f"{other} is not signed by this box's key")


def check_fingerprint(text: str) -> str:
    """The expected key fingerprint, normalised; ValueError naming what is wrong."""
    value = text.strip().lower().replace(":", "")
    if not FINGERPRINT.match(value):
        raise ValueError(
            f"{text!r} is not a key fingerprint (64 hexadecimal digits, as the box and the "
            "RTCC show it)"
        )
    return value


def verify_package_remote(
    package: str | Path, *, uri: str, db: str, fingerprint: str
) -> RemoteCheck:
    """Every source segment of the manifest at the datacenter, signed by the key with the
    expected `fingerprint`, with the same SHA-256 and chain hash; the package signed by it."""
    from recordings.evidence.verify import package_members

    result = RemoteCheck()
    with zipfile.ZipFile(package) as z:
        members = package_members(z)
        manifest = json.loads(z.read(members["manifest.json"]))
        key_pem = z.read(members["box_public_key.pem"])
    box = manifest.get("box_id")
    key = _trusted_key(box, fingerprint, key_pem, uri, db, result)
    if key is None:
        return result
    # Footage still being recorded at export has no segment document: the box's signed
    # prefix_check proves it once the segment has closed.
    sources = [s for s in manifest.get("source_segments", []) if s.get("sequence") is not None]
    opened = [s for s in manifest.get("source_segments", []) if "recorded_prefix" in s]
    _check_prefixes(box, opened, key, fingerprint, uri, db, result)
    ids = [f"{box}:{outbox.SEGMENT}:{segment_key(s['camera_id'], s['sequence'])}" for s in sources]
    wanted = [c for i in ids for c in candidate_ids(i)]
    stored = remote.by_ids("segments", wanted, uri=uri, db=db)
    for doc_id, seg in zip(ids, sources, strict=True):
        result.checked += 1
        name = f"{seg.get('camera')} segment #{seg['sequence']} ({seg.get('file')})"
        _check_source(name, doc_id, seg, _there(doc_id, stored), key, fingerprint, result)
    return result


def _there(doc_id: str, stored: dict[str, dict]) -> list[dict]:
    return [stored[i] for i in candidate_ids(doc_id) if i in stored]


def _check_source(
    name: str,
    doc_id: str,
    seg: dict,
    docs: list[dict],
    key: Ed25519PublicKey,
    fingerprint: str,
    result: RemoteCheck,
) -> None:
    if not docs:
        result.add("missing_there", name, f"no document {doc_id} at the datacenter")
        return
    signed = [d for d in docs if signed_by(d, key)]
    doc = signed[0] if signed else docs[0]
    for k in ("sha256", "chain_hash"):
        if doc.get(k) != seg.get(k):
            result.add(
                "different_there",
                name,
                f"{k} is {doc.get(k)!r} there, {seg.get(k)!r} in the package",
            )
    if not signed:
        result.add(
            "bad_signature",
            name,
            f"the datacenter's document is not signed by the box key {fingerprint[:16]}…",
        )


def _check_prefixes(
    box: str,
    entries: list[dict],
    key: Ed25519PublicKey,
    fingerprint: str,
    uri: str,
    db: str,
    result: RemoteCheck,
) -> None:
    ids = [_prefix_id(box, e) for e in entries]
    stored = remote.by_ids(
        "prefix_checks", [c for i in ids for c in candidate_ids(i)], uri=uri, db=db
    )
    for doc_id, entry in zip(ids, entries, strict=True):
        prefix = entry["recorded_prefix"]
        name = f"{entry.get('camera')} {entry.get('file')} (bytes 0-{prefix['end_byte']})"
        docs = _there(doc_id, stored)
        signed = [d for d in docs if signed_by(d, key)]
        if docs and not signed:
            result.add("bad_signature", name, f"{doc_id} is not signed by {fingerprint[:16]}…")
        elif not signed:
            result.notes.append(
                f"{name}: not yet proved: its segment is still open (no prefix check from the "
                "box at the datacenter yet)"
            )
        else:
            _judge_prefix(name, signed[0], entry, box, key, uri, db, result)


def _prefix_id(box: str, entry: dict) -> str:
    prefix = entry["recorded_prefix"]
    key = prefix_key(entry["id"], prefix["end_byte"], prefix["sha256"])
    return f"{box}:{outbox.PREFIX_CHECK}:{key}"


def _judge_prefix(
    name: str,
    doc: dict,
    entry: dict,
    box: str,
    key: Ed25519PublicKey,
    uri: str,
    db: str,
    result: RemoteCheck,
) -> None:
    """The box's signed check says the closed segment begins with the exported bytes, and the
    segment it names is at the datacenter, signed, with the SHA-256 the check states."""
    prefix = entry["recorded_prefix"]
    stated = (doc.get("path"), doc.get("end_byte"), doc.get("prefix_sha256"))
    if stated != (entry.get("path"), prefix["end_byte"], prefix["sha256"]):
        result.add("prefix_mismatch", name, f"the box's prefix check states {stated!r}")
        return
    if doc.get("result") != "ok":
        result.add(
            "prefix_mismatch",
            name,
            f"the closed segment #{doc.get('sequence')} does not begin with the exported bytes "
            f"(the box found SHA-256 {doc.get('found_sha256')!r}): {doc.get('note')}",
        )
        return
    seg_id = f"{box}:{outbox.SEGMENT}:{segment_key(doc['camera_id'], doc['sequence'])}"
    segments = _there(seg_id, remote.by_ids("segments", candidate_ids(seg_id), uri=uri, db=db))
    signed = [d for d in segments if signed_by(d, key)]
    if not signed or signed[0].get("sha256") != doc.get("segment_sha256"):
        result.add(
            "different_there",
            name,
            f"the prefix check names segment {seg_id} (SHA-256 {doc.get('segment_sha256')}), "
            "not at the datacenter with that SHA-256 and the box's signature",
        )
        return
    result.proved.append(
        f"{name}: proved by the closed segment #{doc['sequence']} (SHA-256 {doc['segment_sha256']})"
    )


def _trusted_key(
    box: str, fingerprint: str, package_pem: bytes, uri: str, db: str, result: RemoteCheck
) -> Ed25519PublicKey | None:
    """The public key whose fingerprint is the expected one: the package's own, when it is
    that key, else a registered PEM that really hashes to it. None (with the problem said)
    when neither is."""
    try:
        packaged = public_key_from_pem(package_pem)
    except ValueError:
        packaged = None
    if packaged is None or fingerprint_of(packaged) != fingerprint:
        result.add(
            "untrusted_key",
            f"box {box}",
            f"the package is signed by key "
            f"{fingerprint_of(packaged) if packaged else 'unreadable'}, not by the key the "
            f"RTCC enrolled for box {box} ({fingerprint})",
        )
    registered = remote.find("boxes", {"box": box, "fingerprint": fingerprint}, uri=uri, db=db)
    for doc in registered:
        try:
            key = public_key_from_pem(str(doc.get("public_key_pem", "")))
        except ValueError:
            continue
        if fingerprint_of(key) == fingerprint:
            return key
    result.add(
        "key_not_registered",
        f"box {box}",
        f"signing key {fingerprint} is not a key box {box} registered at the datacenter",
    )
    return packaged if packaged and fingerprint_of(packaged) == fingerprint else None
