"""The one module that talks to the RTCC's MongoDB (pymongo). Insert and find, nothing else.

Every call has an explicit deadline (server selection, connect, socket, `pymongo.timeout`);
writes use majority write concern. A MongoClient is made per process on first use: it is not
fork-safe and Django-Q workers are forked. Errors leave as RemoteError with the credentials
removed from the text.
"""

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bson
import pymongo
from bson.errors import InvalidDocument
from django.conf import settings
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    InvalidURI,
    PyMongoError,
)
from pymongo.uri_parser import parse_uri
from pymongo.write_concern import WriteConcern

from crimebox import retrieval
from crimebox.redaction import redact_with_uri

logger = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
SELECT_SECONDS = 10  # server selection and connect, whatever the call's own deadline

_clients: dict[tuple, pymongo.MongoClient] = {}


class RemoteError(Exception):
    """The datacenter could not be reached or refused; the message carries no credentials."""


def configured_uri() -> str:
    """The URI from CRIMEBOX_RTCC_URI or the file CRIMEBOX_RTCC_URI_FILE names ('' if none)."""
    if settings.RTCC_URI:
        return settings.RTCC_URI
    if settings.RTCC_URI_FILE:
        try:
            return Path(settings.RTCC_URI_FILE).read_text().strip()
        except OSError as e:
            raise RemoteError(f"cannot read CRIMEBOX_RTCC_URI_FILE: {e.strerror}") from None
    return ""


def is_configured() -> bool:
    """Whether replication is meant to run (a URI or a URI file is set, valid or not)."""
    return bool(settings.RTCC_URI or settings.RTCC_URI_FILE)


def config_problem() -> str:
    """Why the configured replication cannot run ('' when it can, or when it is off).

    A bad URI or an unreadable file is a warning, never a start-up error: replication stays
    off and says why (health, sync_status), recording goes on (docs/sync.md).
    """
    try:
        uri = configured_uri()
    except RemoteError as e:
        return str(e)
    if not uri and settings.RTCC_URI_FILE:
        return "CRIMEBOX_RTCC_URI_FILE is empty"
    if uri:
        try:
            parse_uri(uri, validate=True, warn=False)
        except (InvalidURI, ConfigurationError, ValueError) as e:
            return f"CRIMEBOX_RTCC_URI is not a valid MongoDB URI: {redact(e, uri)}"
    for name in ("RTCC_TLS_CA_FILE", "RTCC_TLS_CERT_FILE"):
        path = getattr(settings, name)
        if path and not Path(path).is_file():
            return f"CRIMEBOX_{name} names {path}, which is not a file"
    return ""


def redact(text: object, uri: str = "") -> str:
    """Text with any user:password@ and the URI's own user name and password taken out."""
    return redact_with_uri(text, uri)


def describe(uri: str) -> str:
    """Host list and options of a URI, without credentials: safe for pages and logs."""
    return redact(uri.split("?", 1)[0])


def client(uri: str | None = None) -> pymongo.MongoClient:
    uri = uri or configured_uri()
    if not uri:
        raise RemoteError("replication is off: CRIMEBOX_RTCC_URI is not set")
    timeout_ms = int(settings.RTCC_TIMEOUT_SECONDS * 1000)
    options: dict[str, Any] = dict(
        serverSelectionTimeoutMS=min(timeout_ms, SELECT_SECONDS * 1000),
        connectTimeoutMS=min(timeout_ms, SELECT_SECONDS * 1000),
        socketTimeoutMS=timeout_ms,
        tz_aware=True,
        retryWrites=False,  # our own retry sees 11000 for what already landed: compared
        appname="crimebox",
    )
    if settings.RTCC_TLS_CA_FILE:
        options.update(tls=True, tlsCAFile=settings.RTCC_TLS_CA_FILE)
    if settings.RTCC_TLS_CERT_FILE:
        options.update(tls=True, tlsCertificateKeyFile=settings.RTCC_TLS_CERT_FILE)
    key = (os.getpid(), uri, tuple(sorted(options.items())))
    if key not in _clients:
        try:
            _clients[key] = pymongo.MongoClient(uri, **options)
        except (PyMongoError, ValueError, TypeError) as e:
            raise RemoteError(f"bad CRIMEBOX_RTCC_URI: {redact(e, uri)}") from None
    return _clients[key]


def database(uri: str | None = None, db: str | None = None) -> Any:
    return client(uri).get_database(
        db or settings.RTCC_DB,
        write_concern=WriteConcern("majority", wtimeout=int(settings.RTCC_TIMEOUT_SECONDS * 1000)),
    )


def one_line(error: object, uri: str = "") -> str:
    """An error as one short line without credentials (pymongo's server-selection errors carry
    a whole topology description)."""
    text = redact(error, uri).split(", Timeout: ")[0].split(" (configured timeouts")[0]
    return " ".join(text.split())[:300]


def failure(error: PyMongoError, uri: str) -> str:
    if isinstance(error, ConnectionFailure):
        return f"cannot reach the datacenter at {describe(uri)}: {one_line(error, uri)}"
    return one_line(error, uri)


def ping(uri: str | None = None, *, seconds: float | None = None) -> None:
    """A cheap round trip: RemoteError (one line) unless the datacenter answers in time."""
    uri = uri or configured_uri()
    seconds = seconds or min(settings.RTCC_TIMEOUT_SECONDS, SELECT_SECONDS)
    try:
        with pymongo.timeout(seconds):
            client(uri).admin.command("ping")
    except RemoteError:
        raise
    except Exception as e:  # a hostile server's reply can break pymongo itself
        raise RemoteError(
            f"cannot reach the datacenter at {describe(uri)} within {seconds:g} s: "
            f"{one_line(e, uri)}"
        ) from None


@dataclass
class InsertResult:
    inserted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # already there: compare them
    failed: dict[str, str] = field(default_factory=dict)  # _id -> error, kept pending


def insert(collection: str, docs: list[dict], *, uri: str | None = None) -> InsertResult:
    """insert_many(ordered=False): every document gets its own answer. A reply that is not
    what MongoDB answers (hostile or broken) is a RemoteError: nothing counts as delivered."""
    uri = uri or configured_uri()
    result = InsertResult()
    try:
        with pymongo.timeout(settings.RTCC_TIMEOUT_SECONDS):
            database(uri)[collection].insert_many(docs, ordered=False)
    except InvalidDocument:
        return _insert_encodable(collection, docs, uri)
    except BulkWriteError as e:
        return _bulk_answer([d["_id"] for d in docs], e.details, uri)
    except PyMongoError as e:
        raise RemoteError(failure(e, uri)) from None
    except Exception as e:  # pymongo failing on a reply it cannot read (n: "many", bad index)
        raise RemoteError(unexpected(e, uri)) from None
    result.inserted = [d["_id"] for d in docs]
    return result


def unexpected(error: Exception, uri: str = "") -> str:
    return f"unexpected reply from the datacenter ({type(error).__name__}: {one_line(error, uri)})"


def _insert_encodable(collection: str, docs: list[dict], uri: str) -> InsertResult:
    """One document BSON cannot hold must not hold up the others: set it aside, send the rest."""
    result, good = InsertResult(), []
    for doc in docs:
        try:
            bson.encode(doc)
            good.append(doc)
        except InvalidDocument as e:
            result.failed[doc["_id"]] = f"cannot be encoded as BSON: {e}"
    if len(good) == len(docs):
        raise RemoteError("the batch could not be encoded as BSON")
    if good:
        answer = insert(collection, good, uri=uri)
        answer.failed.update(result.failed)
        return answer
    return result


def _bulk_answer(ids: list[str], details: Any, uri: str) -> InsertResult:
    """Each document's fate from a BulkWriteError's details, every part checked."""
    result = InsertResult()
    errors = details.get("writeErrors", []) if isinstance(details, dict) else None
    if not isinstance(errors, list):
        raise RemoteError("unexpected reply from the datacenter (writeErrors is not a list)")
    for error in errors:
        index = error.get("index") if isinstance(error, dict) else None
        if type(index) is not int or not 0 <= index < len(ids):
            raise RemoteError(
                f"unexpected reply from the datacenter (a write error for document {index!r} "
                f"of {len(ids)})"
            )
        if error.get("code") == DUPLICATE_KEY:
            result.duplicates.append(ids[index])
        else:
            result.failed[ids[index]] = redact(str(error.get("errmsg", "write error"))[:500], uri)
    concern = details.get("writeConcernErrors")
    if concern:
        # Written to the primary but not confirmed by a majority: not delivered yet; the next
        # pass sees 11000 for these and compares.
        first = concern[0] if isinstance(concern, list) and isinstance(concern[0], dict) else {}
        message = redact(str(first.get("errmsg", "write concern"))[:500], uri)
        for doc_id in ids:
            if doc_id not in result.duplicates and doc_id not in result.failed:
                result.failed[doc_id] = f"write concern: {message}"
    done = set(result.duplicates) | set(result.failed)
    result.inserted = [i for i in ids if i not in done]
    return result


def stream(
    collection: str, query: dict, *, uri: str | None = None, db: str | None = None, **kw: Any
) -> Iterator[dict]:
    """Matching documents one at a time (bounded memory), each batch under the deadline.

    A reachable datacenter is checked first (ping): an unreachable one fails within the
    server-selection time, not the read's longer deadline."""
    uri = uri or configured_uri()
    ping(uri)
    try:
        cursor = database(uri, db)[collection].find(query, **kw).batch_size(200)
        while True:
            with pymongo.timeout(settings.RTCC_TIMEOUT_SECONDS):
                doc = next(cursor, None)
            if doc is None:
                return
            yield doc
    except PyMongoError as e:
        raise RemoteError(failure(e, uri)) from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        raise RemoteError(unexpected(e, uri)) from None


def find(
    collection: str, query: dict, *, uri: str | None = None, db: str | None = None, **kw: Any
) -> list[dict]:
    """All matching documents (a list): only for short answers (ids, a box's keys)."""
    return list(stream(collection, query, uri=uri, db=db, **kw))


def by_ids(collection: str, ids: list[str], **kw: Any) -> dict[str, dict]:
    """The stored documents under these `_id`s; anything else the server sends is ignored."""
    wanted, found = set(ids), {}
    for i in range(0, len(ids), 500):
        for doc in find(collection, {"_id": {"$in": ids[i : i + 500]}}, **kw):
            doc_id = doc.get("_id")
            if isinstance(doc_id, str) and doc_id in wanted:
                found[doc_id] = doc
    return found


# The collections and indexes an administrator creates (docs/sync.md has the mongosh version;
# tests and the benchmark create them with this). The box itself never calls it.
INDEXES = {
    "boxes": [[("box", 1)], [("fingerprint", 1)]],
    "segments": [
        [("sha256", 1)],
        [("chain_hash", 1)],
        [("box", 1), ("camera_id", 1), ("start", 1)],
        [("box", 1), ("camera_id", 1), ("sequence", 1)],
    ],
    "segment_events": [[("segment", 1), ("at", 1)], [("box", 1), ("at", 1)]],
    "gaps": [[("box", 1), ("camera_id", 1), ("start", 1)]],
    "cameras": [[("box", 1), ("camera_id", 1)]],
    "audit": [[("box", 1), ("sequence", 1)], [("box", 1), ("at", 1)]],
    "exports": [[("box", 1), ("case_number", 1)], [("package_sha256", 1)]],
    "integrity_checks": [[("box", 1), ("started_at", 1)]],
    "prefix_checks": [],
    "heartbeats": [[("box", 1), ("time", -1)]],
    "dropped": [],
}
# The RTCC console reads every collection by box and document number (rtcc/ingest.py).
for _indexes in INDEXES.values():
    _indexes.append([("box", 1), ("n", 1)])


def create_collections(uri: str, db: str) -> None:
    database_ = client(uri).get_database(db)
    existing = set(database_.list_collection_names())
    for name, indexes in INDEXES.items():
        if name not in existing:
            database_.create_collection(name)
        for keys in indexes:
            database_[name].create_index(keys)
    for name, unique_indexes in retrieval.INDEXES.items():  # clips on request
        if name not in existing:
            database_.create_collection(name)
        for keys, unique in unique_indexes:
            database_[name].create_index(keys, unique=unique)
