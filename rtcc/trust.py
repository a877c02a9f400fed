"""The datacenter checks every fact itself: keys, enrolment, signatures and segment chains.

Signatures use the one canonical encoding shared with the box (crimebox/signature.py); chain
links the one formula (crimebox/chain.py). Nothing here talks to MongoDB.
"""

import enum
import logging
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import transaction
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from crimebox.chain import segment_link
from crimebox.hashing import GENESIS
from crimebox.keys import fingerprint_of, public_key_from_pem
from crimebox.signature import verify

from . import alerts
from .models import Alert, Box, BoxKey, Verification

logger = logging.getLogger(__name__)


class Verdict(enum.Enum):
    TRUSTED = "trusted"  # signed by the box's enrolled key, signature good
    HELD = "held"  # signed by a key that is not enrolled (yet): kept, untrusted, never shown
    BAD = "bad"  # claims the enrolled key but the signature does not verify


class EnrolmentError(Exception):
    """An enrolment decision that cannot be made (unknown box or fingerprint)."""


_keys: dict[str, Ed25519PublicKey] = {}


def public_key(fingerprint: str, pem: str) -> Ed25519PublicKey:
    if fingerprint not in _keys:
        _keys[fingerprint] = public_key_from_pem(pem)
    return _keys[fingerprint]


def raw_key(box: Box) -> bytes | None:
    """The enrolled key's 32 bytes (what the verification worker is sent), or None."""
    if box.enrolment != Box.Enrolment.ENROLLED:
        return None
    key = public_key(box.fingerprint, box.public_key_pem)
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verdict(doc: dict, box: Box, good: bool | None = None) -> Verdict:
    """`good`: the verification worker's answer for the enrolled key (None: verify here)."""
    if box.enrolment != Box.Enrolment.ENROLLED or doc["sig"]["key"] != box.fingerprint:
        return Verdict.HELD
    if good is None:
        good = verify(doc, public_key(box.fingerprint, box.public_key_pem))
    return Verdict.TRUSTED if good else Verdict.BAD


def key_problem(doc: dict) -> str:
    """What is wrong with a `boxes` document's key (it signs itself), or ""."""
    try:
        key = public_key_from_pem(doc["public_key_pem"])
    except ValueError:
        return "public_key_pem is not an Ed25519 public key"
    if fingerprint_of(key) != doc["fingerprint"] or doc["sig"]["key"] != doc["fingerprint"]:
        return "fingerprint does not match the key"
    if not verify(doc, key):
        return "bad signature"
    return ""


def register_key(box: Box, doc: dict, now: datetime) -> tuple[BoxKey, bool]:
    """The key a `boxes` document presents (checked by key_problem): (key, is it new)."""
    return BoxKey.objects.get_or_create(
        box=box,
        fingerprint=doc["fingerprint"],
        defaults={
            "public_key_pem": doc["public_key_pem"],
            "doc_id": doc["_id"],
            "first_seen_at": now,
        },
    )


def link(doc: dict, prev_chain_hash: str | None) -> tuple[str, str]:
    """(verification, problem kind or "") of a segment document against its predecessor.

    The chain hash is recomputed from the document's own fields; the previous link must be
    the previous sequence's chain hash (GENESIS before sequence 1)."""
    recomputed = segment_link(
        camera_id=doc["camera_id"],
        sequence=doc["sequence"],
        prev=doc["prev_chain_hash"],
        sha256=doc["sha256"],
        start_exact=doc["start_exact"],
        end_exact=doc["end_exact"],
        size=doc["size"],
    )
    if recomputed != doc["chain_hash"]:
        return Verification.BROKEN, "bad_hash"
    if doc["sequence"] == 1:
        ok = doc["prev_chain_hash"] == GENESIS
        return (Verification.VERIFIED, "") if ok else (Verification.BROKEN, "broken_link")
    if prev_chain_hash is None:
        return Verification.UNLINKED, ""
    if prev_chain_hash != doc["prev_chain_hash"]:
        return Verification.BROKEN, "broken_link"
    return Verification.VERIFIED, ""


def enrol(box_id: str, fingerprint: str, *, by: str = "cli", now: datetime | None = None) -> BoxKey:
    """Approve `fingerprint` as `box_id`'s key (after comparing it with the box's own screen).

    Any other enrolled key of the box is revoked. The documents held back for this key are
    verified by the next ingest pass."""
    now = now or timezone.now()
    with transaction.atomic():
        key = _key(box_id, fingerprint)
        box = key.box
        box.keys.filter(state=Box.Enrolment.ENROLLED).exclude(pk=key.pk).update(
            state=Box.Enrolment.REVOKED, decided_at=now, decided_by=by
        )
        key.state, key.decided_at, key.decided_by = Box.Enrolment.ENROLLED, now, by
        key.save(update_fields=["state", "decided_at", "decided_by"])
        box.enrolment, box.fingerprint = Box.Enrolment.ENROLLED, key.fingerprint
        box.public_key_pem, box.enrolled_at, box.enrolled_by = key.public_key_pem, now, by
        box.save(
            update_fields=[
                "enrolment",
                "fingerprint",
                "public_key_pem",
                "enrolled_at",
                "enrolled_by",
            ]
        )
        _audit("enrolled", key, by)
        alerts.resolve(Alert.Kind.UNENROLLED, box, subject=key.fingerprint, now=now)
    logger.info("enrolled box %s key %s (by %s)", box_id, fingerprint, by)
    return key


def revoke(
    box_id: str, fingerprint: str, *, by: str = "cli", now: datetime | None = None
) -> BoxKey:
    """Withdraw trust in a key: the box's later documents signed with it are held back."""
    now = now or timezone.now()
    with transaction.atomic():
        key = _key(box_id, fingerprint)
        key.state, key.decided_at, key.decided_by = Box.Enrolment.REVOKED, now, by
        key.save(update_fields=["state", "decided_at", "decided_by"])
        box = key.box
        if box.fingerprint == fingerprint:
            box.enrolment = Box.Enrolment.REVOKED
            box.save(update_fields=["enrolment"])
        _audit("revoked", key, by)
    logger.info("revoked box %s key %s (by %s)", box_id, fingerprint, by)
    return key


def _key(box_id: str, fingerprint: str) -> BoxKey:
    fingerprint = fingerprint.strip().lower().replace(":", "")
    try:
        # The box's row before its keys, in the order the ingest takes them (rtcc.ingest.lock):
        # on PostgreSQL the other order could deadlock with an ingest pass.
        box = Box.objects.select_for_update().get(box_id=box_id)
    except Box.DoesNotExist:
        raise EnrolmentError(f"no box {box_id!r} has written to the ledger") from None
    try:
        return box.keys.select_for_update().get(fingerprint=fingerprint)
    except BoxKey.DoesNotExist:
        known = ", ".join(box.keys.values_list("fingerprint", flat=True)) or "none"
        raise EnrolmentError(
            f"box {box_id} never presented the key {fingerprint}; its keys: {known}"
        ) from None


def _audit(what: str, key: BoxKey, by: str) -> None:
    log.record(
        AuditEvent.Action.ADMIN_CHANGE,
        username=by,
        target=f"box {key.box.box_id}"[:200],
        detail={"what": what, "model": "rtcc.BoxKey", "fingerprint": key.fingerprint},
    )
