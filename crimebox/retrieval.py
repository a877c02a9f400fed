"""Clips on request: the protocol between the RTCC console and a box (docs/sync.md, "Clips on
request from the RTCC").

Shared by both halves, as the canonical encoding is: the box (sync/requests.py, sync/upload.py)
and the console (rtcc/retrieval*.py) import it; it imports neither.

- `requests`: the console inserts clip requests and cancellations, signed with the console's
  Ed25519 key. Boxes may only `find` there, so no box login can squat or alter one.
- `chunks`: the box inserts its package in insert-only chunks, `{package, n}` unique, each
  carrying its SHA-256; the console reads them back in bounded batches and removes them once
  the package is verified.
- `retrievals`: the box's answers (accepted, refused, failed, cancelled, uploaded: the closing
  document with the package's SHA-256 and size), signed by the box and sent through its outbox.
"""

import hashlib
import uuid
from datetime import datetime
from typing import Any

from crimebox.signature import Signer, ms, sign

REQUESTS = "requests"
CHUNKS = "chunks"
RETRIEVALS = "retrievals"
SCHEMA = 1
REQUEST_KIND = "clip_request"
CANCEL_KIND = "clip_cancel"
ANSWER_KIND = "retrieval"
CONSOLE = "rtcc"  # the `box` of nothing: requests name their box in `box`

# The box's answers, in the order they can happen. `uploading` says how big the package is;
# `uploaded` closes an upload.
ACCEPTED, UPLOADING, REFUSED, FAILED, CANCELLED, UPLOADED = (
    "accepted",
    "uploading",
    "refused",
    "failed",
    "cancelled",
    "uploaded",
)
ANSWER_STATES = (ACCEPTED, UPLOADING, REFUSED, FAILED, CANCELLED, UPLOADED)
FINAL_STATES = (REFUSED, FAILED, CANCELLED, UPLOADED)

# Indexes an administrator creates (docs/sync.md). `requests`: the box's one find
# {box, created_at >= since}. `chunks`: {package, n} unique is the exactly-once key of a chunk;
# the box finds the n it already delivered, the console reads them sorted by n.
INDEXES: dict[str, list[tuple[list[tuple[str, int]], bool]]] = {
    REQUESTS: [([("box", 1), ("created_at", 1)], False)],
    CHUNKS: [([("package", 1), ("n", 1)], True)],
    RETRIEVALS: [([("request", 1)], False), ([("box", 1), ("at", 1)], False)],
}


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_doc_id(request: str) -> str:
    return f"{CONSOLE}:{REQUEST_KIND}:{request}"


def cancel_doc_id(request: str) -> str:
    return f"{CONSOLE}:{CANCEL_KIND}:{request}"


def package_id(box: str, request: str) -> str:
    return f"{box}:{request}"


def chunk_doc_id(box: str, request: str, n: int) -> str:
    return f"{box}:chunk:{request}:{n}"


def answer_doc_id(box: str, request: str, state: str) -> str:
    return f"{box}:{ANSWER_KIND}:{request}:{state}"


def request_doc(
    key: Signer,
    *,
    request: str,
    box: str,
    camera: str,
    start: datetime,
    end: datetime,
    case_number: str,
    reason: str,
    user: str,
    priority: int,
    created_at: datetime,
) -> dict:
    """A clip request, signed by the console's key."""
    doc = {
        "_id": request_doc_id(request),
        "schema": SCHEMA,
        "kind": REQUEST_KIND,
        "request": request,
        "box": box,
        "camera": camera,
        "start": ms(start),
        "end": ms(end),
        "case_number": case_number,
        "reason": reason,
        "user": user,
        "priority": priority,
        "created_at": ms(created_at),
    }
    return sign(doc, key)


def cancel_doc(key: Signer, *, request: str, box: str, user: str, created_at: datetime) -> dict:
    """The console's stop button: the box stops within one chunk."""
    doc = {
        "_id": cancel_doc_id(request),
        "schema": SCHEMA,
        "kind": CANCEL_KIND,
        "request": request,
        "box": box,
        "user": user,
        "created_at": ms(created_at),
    }
    return sign(doc, key)


def chunk_doc(box: str, request: str, n: int, data: bytes, *, at: datetime) -> dict:
    """One insert-only chunk of a package. Not signed: the package's SHA-256 is, twice (the box's
    `exports` document and its closing `uploaded` answer), and each chunk's SHA-256 lets the
    console name a damaged chunk instead of only a damaged package."""
    return {
        "_id": chunk_doc_id(box, request, n),
        "box": box,
        "schema": SCHEMA,
        "kind": "chunk",
        "request": request,
        "package": package_id(box, request),
        "n": n,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "at": ms(at),
        "data": data,
    }


def chunk_problem(doc: dict[str, Any], package: str, n: int) -> str:
    """Why a stored chunk cannot be part of `package` at position `n` ('' when it can)."""
    data = doc.get("data")
    if doc.get("package") != package:
        return f"chunk {n} belongs to package {doc.get('package')!r}"
    if doc.get("n") != n:
        return f"chunk {n} says it is chunk {doc.get('n')!r}"
    if not isinstance(data, bytes):
        return f"chunk {n} holds no bytes"
    if len(data) != doc.get("size"):
        return f"chunk {n} holds {len(data)} bytes, says {doc.get('size')}"
    if hashlib.sha256(data).hexdigest() != doc.get("sha256"):
        return f"chunk {n}'s SHA-256 does not match its bytes"
    return ""


def chunk_count(size: int, chunk_size: int) -> int:
    return max(1, -(-size // chunk_size))
