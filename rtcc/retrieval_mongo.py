"""The console's MongoDB calls for clips on request: the only place the console writes the ledger.

Writes are exactly three, none of them on a box's evidence: insert a request or a cancellation
into `requests` (which boxes may only read), and remove the `chunks` of a package the console
has verified and stored (`{package}` of the console's own request: a box login cannot make it
remove anything else). Reads: the box's answers, its chunks (sorted by n, 16 at a time: FerretDB
fills a reply by the batch size alone, so without one a big package comes back as one reply
over the 48 MB message limit and fails), and the
`exports` and `segments` documents the package is verified against (each under its `_id` and
the alternates a box uses when another login took it first). Every call has a deadline;
errors leave as RetrievalLinkError without credentials.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
from django.conf import settings
from pymongo.errors import DuplicateKeyError, PyMongoError

from crimebox import retrieval as proto
from crimebox.alternates import candidate_ids
from crimebox.redaction import redact_with_uri

CHUNK_BATCH = 16

_clients: dict[tuple[int, str], pymongo.MongoClient] = {}


class RetrievalLinkError(Exception):
    """MongoDB could not be reached or refused; the message carries no credentials."""


def _uri() -> str:
    if settings.RTCC_URI:
        return str(settings.RTCC_URI)
    if settings.RTCC_URI_FILE:
        try:
            return Path(settings.RTCC_URI_FILE).read_text().strip()
        except OSError as e:
            raise RetrievalLinkError(f"cannot read CRIMEBOX_RTCC_URI_FILE: {e.strerror}") from None
    raise RetrievalLinkError("no ledger: CRIMEBOX_RTCC_URI is not set")


def _clean(error: object, uri: str) -> str:
    return redact_with_uri(error, uri)


def _db() -> Any:
    uri = _uri()
    key = (os.getpid(), uri)
    if key not in _clients:
        timeout_ms = int(settings.RTCC_TIMEOUT_SECONDS * 1000)
        options: dict[str, Any] = dict(
            serverSelectionTimeoutMS=min(timeout_ms, 10_000),
            connectTimeoutMS=min(timeout_ms, 10_000),
            socketTimeoutMS=timeout_ms,
            tz_aware=True,
            appname="crimebox-rtcc-retrieval",
        )
        if settings.RTCC_TLS_CA_FILE:
            options.update(tls=True, tlsCAFile=settings.RTCC_TLS_CA_FILE)
        if settings.RTCC_TLS_CERT_FILE:
            options.update(tls=True, tlsCertificateKeyFile=settings.RTCC_TLS_CERT_FILE)
        try:
            _clients[key] = pymongo.MongoClient(uri, **options)
        except (PyMongoError, ValueError, TypeError) as e:
            raise RetrievalLinkError(f"bad CRIMEBOX_RTCC_URI: {_clean(e, uri)}") from None
    return _clients[key].get_database(settings.RTCC_DB)


def _call(what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        with pymongo.timeout(settings.RTCC_TIMEOUT_SECONDS):
            return fn(*args, **kw)
    except DuplicateKeyError:
        raise
    except PyMongoError as e:
        raise RetrievalLinkError(f"{what}: {_clean(e, _uri())}") from None


def insert_request(doc: dict) -> None:
    """A signed request or cancellation; one already there (same _id) is left as it is."""
    try:
        _call("requests", _db()[proto.REQUESTS].insert_one, doc)
    except DuplicateKeyError:
        pass


def answers(request: str) -> list[dict]:
    # Read inside _call: a cursor talks to the server when it is iterated, not when made.
    def read() -> list[dict]:
        return list(_db()[proto.RETRIEVALS].find({"request": request}).limit(50))

    found: list[dict] = _call("retrievals", read)
    return found


def chunk_progress(package: str) -> tuple[int, int]:
    """(chunks, bytes) of a package at the datacenter, without reading the bytes."""

    def read() -> tuple[int, int]:
        cursor = _db()[proto.CHUNKS].find({"package": package}, {"n": 1, "size": 1})
        count = size = 0
        for doc in cursor.batch_size(1000):
            count += 1
            size += int(doc.get("size") or 0)
        return count, size

    progress: tuple[int, int] = _call("chunks", read)
    return progress


def chunks(package: str) -> Iterator[dict]:
    """Every chunk of a package, by n, a bounded batch at a time (never all in one message)."""
    try:  # each round trip is bounded by socketTimeoutMS, however big the package
        yield from (
            _db()[proto.CHUNKS].find({"package": package}).sort("n", 1).batch_size(CHUNK_BATCH)
        )
    except PyMongoError as e:
        raise RetrievalLinkError(f"chunks: {_clean(e, _uri())}") from None


def under_id(collection: str, doc_id: str) -> list[dict]:
    """The documents under `doc_id` and its alternates `~1..~3` (where a box puts its own when
    another login took the `_id` first), in that order; the caller keeps the signed ones."""
    ids = candidate_ids(doc_id)

    def read() -> list[dict]:
        found = {d["_id"]: d for d in _db()[collection].find({"_id": {"$in": ids}})}
        return [found[i] for i in ids if i in found]

    docs: list[dict] = _call(collection, read)
    return docs


def remove_chunks(package: str) -> int:
    """After the package is verified and stored: the console's role may, a box's may not."""
    result = _call("chunks", _db()[proto.CHUNKS].delete_many, {"package": package})
    return int(result.deleted_count)
