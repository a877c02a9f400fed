"""The one module that talks to the RTCC's MongoDB (pymongo). Insert and find, nothing else.

Every call has an explicit deadline (server selection, connect, socket, `pymongo.timeout`);
writes use majority write concern. A MongoClient is made per process on first use: it is not
fork-safe and Django-Q workers are forked. Errors leave as RemoteError with the credentials
removed from the text.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import bson
import pymongo
from bson.errors import InvalidDocument
from django.conf import settings
from pymongo.errors import BulkWriteError, PyMongoError
from pymongo.write_concern import WriteConcern

from crimebox import retrieval

DUPLICATE_KEY = 11000

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
    return bool(settings.RTCC_URI or settings.RTCC_URI_FILE)


def redact(text: object, uri: str = "") -> str:
    """Text with any user:password@ and the URI's own user name and password taken out."""
    text = re.sub(r"(mongodb(?:\+srv)?://)[^@/\s]*@", r"\1***@", str(text))
    if uri:
        parts = urlsplit(uri)
        for secret in (parts.password, parts.username):
            if secret:
                text = text.replace(secret, "***").replace(unquote(secret), "***")
    return text


def describe(uri: str) -> str:
    """Host list and options of a URI, without credentials: safe for pages and logs."""
    return redact(uri.split("?", 1)[0])


def client(uri: str | None = None) -> pymongo.MongoClient:
    uri = uri or configured_uri()
    if not uri:
        raise RemoteError("replication is off: CRIMEBOX_RTCC_URI is not set")
    timeout_ms = int(settings.RTCC_TIMEOUT_SECONDS * 1000)
    options: dict[str, Any] = dict(
        serverSelectionTimeoutMS=min(timeout_ms, 10_000),
        connectTimeoutMS=min(timeout_ms, 10_000),
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


@dataclass
class InsertResult:
    inserted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # already there: compare them
    failed: dict[str, str] = field(default_factory=dict)  # _id -> error, kept pending


def insert(collection: str, docs: list[dict], *, uri: str | None = None) -> InsertResult:
    """insert_many(ordered=False): every document gets its own answer."""
    uri = uri or configured_uri()
    result = InsertResult()
    try:
        with pymongo.timeout(settings.RTCC_TIMEOUT_SECONDS):
            database(uri)[collection].insert_many(docs, ordered=False)
    except InvalidDocument:
        # One document BSON cannot hold must not hold up the others: set it aside, send the rest.
        good = []
        for doc in docs:
            try:
                bson.encode(doc)
                good.append(doc)
            except InvalidDocument as e:
                result.failed[doc["_id"]] = f"cannot be encoded as BSON: {e}"
        if len(good) == len(docs):
            raise RemoteError("the batch could not be encoded as BSON") from None
        if good:
            answer = insert(collection, good, uri=uri)
            answer.failed.update(result.failed)
            return answer
        return result
    except BulkWriteError as e:
        ids = [d["_id"] for d in docs]
        details = e.details
        for error in details.get("writeErrors", []):
            doc_id = ids[error["index"]]
            if error.get("code") == DUPLICATE_KEY:
                result.duplicates.append(doc_id)
            else:
                result.failed[doc_id] = redact(error.get("errmsg", "write error"), uri)
        if details.get("writeConcernErrors"):
            # Written to the primary but not confirmed by a majority: not delivered yet; the next
            # pass sees 11000 for these and compares.
            message = redact(details["writeConcernErrors"][0].get("errmsg", "write concern"), uri)
            for doc_id in ids:
                if doc_id not in result.duplicates and doc_id not in result.failed:
                    result.failed[doc_id] = f"write concern: {message}"
        done = set(result.duplicates) | set(result.failed)
        result.inserted = [i for i in ids if i not in done]
        return result
    except PyMongoError as e:
        raise RemoteError(redact(e, uri)) from None
    result.inserted = [d["_id"] for d in docs]
    return result


def find(
    collection: str, query: dict, *, uri: str | None = None, db: str | None = None, **kw: Any
) -> list[dict]:
    """All matching documents (a list), under the deadline."""
    uri = uri or configured_uri()
    try:
        with pymongo.timeout(settings.RTCC_TIMEOUT_SECONDS * 3):
            return list(database(uri, db)[collection].find(query, **kw))
    except PyMongoError as e:
        raise RemoteError(redact(e, uri)) from None


def by_ids(collection: str, ids: list[str], **kw: Any) -> dict[str, dict]:
    found = {}
    for i in range(0, len(ids), 500):
        for doc in find(collection, {"_id": {"$in": ids[i : i + 500]}}, **kw):
            found[doc["_id"]] = doc
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
