"""What a duplicate key (11000) means, decided with the box's own key (docs/sync.md).

- The stored copy is the box's document: delivered (a pass died before marking it).
- A different document **signed by this box's key**: the box itself once sent another version
  of this fact; an integrity alarm (state *Different at the datacenter*), never overwritten.
- A document **not signed by this box's key** (planted with the box's login before the box
  sent its own, or altered at the datacenter) is a squatter: the box's document goes to the
  first free alternate `_id`, `<_id>~1` … `<_id>~3`, the same document re-signed under that
  `_id`; when every alternate is squatted too, the row becomes *Different at the datacenter*.

A stored document that is not even well formed (a float, a list `_id`) is a squatter too: the
box's key cannot have signed it.
"""

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crimebox.alternates import ALTERNATES, alternate_id
from crimebox.signature import same, sign, verify

from . import remote
from .outbox import signing_key


def alternate(doc: dict, k: int) -> dict:
    """The box's document under its k-th alternate `_id` (Ed25519 is deterministic: the same
    bytes every time, so a retry compares equal)."""
    body = {key: value for key, value in doc.items() if key != "sig"}
    return sign({**body, "_id": alternate_id(doc["_id"], k)}, signing_key())


def signed_by(doc: Any, public_key: Ed25519PublicKey) -> bool:
    """Whether `doc` carries a valid signature of `public_key`; False for anything malformed."""
    try:
        return isinstance(doc, dict) and verify(doc, public_key)
    except (TypeError, ValueError, AttributeError, KeyError):
        return False


def identical(ours: dict, theirs: Any) -> bool:
    try:
        return isinstance(theirs, dict) and same(ours, theirs)
    except (TypeError, ValueError, AttributeError, KeyError):
        return False


@dataclass
class Resolution:
    delivered: list[str] = field(default_factory=list)
    delivered_as: dict[str, str] = field(default_factory=dict)  # _id -> alternate _id
    mismatched: list[str] = field(default_factory=list)
    squatted: list[str] = field(default_factory=list)  # every alternate squatted too
    failed: dict[str, str] = field(default_factory=dict)


def resolve(collection: str, docs: dict[str, dict], duplicates: list[str]) -> Resolution:
    """Settle every duplicate of one collection's insert (RemoteError when unreachable)."""
    out, key = Resolution(), signing_key().public_key
    stored = remote.by_ids(collection, duplicates)
    squatters: dict[str, dict] = {}
    for doc_id in duplicates:
        theirs = stored.get(doc_id)
        if theirs is None:
            out.failed[doc_id] = "duplicate key but not found at the datacenter"
        elif identical(docs[doc_id], theirs):
            out.delivered.append(doc_id)
        elif signed_by(theirs, key):
            out.mismatched.append(doc_id)
        else:
            squatters[doc_id] = docs[doc_id]
    for k in range(1, ALTERNATES + 1):
        if not squatters:
            break
        squatters = _try_alternates(collection, squatters, k, out)
    out.squatted = list(squatters)
    return out


def _try_alternates(
    collection: str, squatters: dict[str, dict], k: int, out: Resolution
) -> dict[str, dict]:
    """Insert each squatted document under its k-th alternate; those still squatted remain."""
    alternates = {alternate_id(i, k): (i, alternate(doc, k)) for i, doc in squatters.items()}
    answer = remote.insert(collection, [doc for _, doc in alternates.values()])
    for alt in answer.inserted:
        out.delivered_as[alternates[alt][0]] = alt
    for alt, error in answer.failed.items():
        out.failed[alternates[alt][0]] = error
    stored = remote.by_ids(collection, answer.duplicates) if answer.duplicates else {}
    remaining: dict[str, dict] = {}
    for alt in answer.duplicates:
        doc_id, doc = alternates[alt]
        if identical(doc, stored.get(alt)):
            out.delivered_as[doc_id] = alt
        else:
            remaining[doc_id] = squatters[doc_id]
    return remaining
