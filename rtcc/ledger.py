"""The ingest's reader of the boxes' MongoDB ledger (pymongo). Find only. (Clips on request
read and write through their own module, rtcc/retrieval_mongo.py.)

Only `find` with simple filters (equality, `$gt`/`$gte`/`$lte`, `$in`) and a sort on one field:
what any MongoDB-protocol server answers (FerretDB included). Every read is bounded (a limit,
a batch size) and has a deadline (`pymongo.timeout`); the MongoClient is made in the process
that uses it, on first use (never inherited over a fork). Errors leave as LedgerError with the
credentials taken out. The ingest never writes: the ledger is the boxes' evidence.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
from django.conf import settings
from pymongo.errors import (
    ExecutionTimeout,
    NetworkTimeout,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from crimebox.redaction import redact_url, redact_with_uri

# Every collection a box writes to (docs/sync.md), in the order a pass reads them.
COLLECTIONS = (
    "boxes",
    "cameras",
    "segments",
    "segment_events",
    "gaps",
    "audit",
    "exports",
    "integrity_checks",
    "prefix_checks",
    "heartbeats",
    "dropped",
    "retrievals",
    "camera_clocks",
)

_clients: dict[tuple[int, str], pymongo.MongoClient] = {}


class LedgerError(Exception):
    """The ledger could not be read; the message carries no credentials."""


def configured_uri() -> str:
    """CRIMEBOX_RTCC_URI, or the content of CRIMEBOX_RTCC_URI_FILE ('' when neither is set)."""
    if settings.RTCC_URI:
        return str(settings.RTCC_URI)
    if settings.RTCC_URI_FILE:
        try:
            return Path(settings.RTCC_URI_FILE).read_text().strip()
        except OSError as e:
            raise LedgerError(f"cannot read CRIMEBOX_RTCC_URI_FILE: {e.strerror}") from None
    return ""


def describe(uri: str) -> str:
    """The URI without credentials or options: safe for pages and logs."""
    return redact_url(uri.split("?", 1)[0])


def _client(uri: str) -> pymongo.MongoClient:
    key = (os.getpid(), uri)
    if key not in _clients:
        timeout_ms = int(settings.RTCC_TIMEOUT_SECONDS * 1000)
        options: dict[str, Any] = dict(
            serverSelectionTimeoutMS=min(timeout_ms, 10_000),
            connectTimeoutMS=min(timeout_ms, 10_000),
            socketTimeoutMS=timeout_ms,
            tz_aware=True,
            appname="crimebox-rtcc",
        )
        if settings.RTCC_TLS_CA_FILE:
            options.update(tls=True, tlsCAFile=settings.RTCC_TLS_CA_FILE)
        if settings.RTCC_TLS_CERT_FILE:
            options.update(tls=True, tlsCertificateKeyFile=settings.RTCC_TLS_CERT_FILE)
        try:
            _clients[key] = pymongo.MongoClient(uri, **options)
        except (PyMongoError, ValueError, TypeError) as e:
            raise LedgerError(f"bad CRIMEBOX_RTCC_URI: {_clean(e, uri)}") from None
    return _clients[key]


def _clean(error: object, uri: str) -> str:
    return redact_with_uri(error, uri)


class Ledger:
    """Reads of one ledger database. The iterators fetch lazily, a batch at a time."""

    def __init__(self, uri: str | None = None, db: str | None = None) -> None:
        self.uri = uri or configured_uri()
        if not self.uri:
            raise LedgerError("no ledger: CRIMEBOX_RTCC_URI is not set")
        self.db_name = db or settings.RTCC_DB

    def __str__(self) -> str:
        return f"{describe(self.uri)} database {self.db_name}"

    def _collection(self, name: str) -> Any:
        return _client(self.uri).get_database(self.db_name)[name]

    def _find(
        self, name: str, filter: dict, sort: str, limit: int, projection: dict | None = None
    ) -> Iterator[dict]:
        try:
            # Each round trip is bounded by socketTimeoutMS; the server's own work by maxTimeMS.
            yield from (
                self._collection(name)
                .find(filter, projection)
                .sort(sort, 1)
                .limit(limit)
                .batch_size(min(limit, 200))
                .max_time_ms(int(settings.RTCC_TIMEOUT_SECONDS * 1000))
            )
        except (ServerSelectionTimeoutError, NetworkTimeout, ExecutionTimeout) as e:
            # pymongo's text ends in a topology dump; an operator needs who, how long and why.
            why = _clean(str(e).split(", Timeout:")[0][:300], self.uri)
            raise LedgerError(
                f"{name}: {describe(self.uri)} did not answer within "
                f"{settings.RTCC_TIMEOUT_SECONDS:g} s: {why}"
            ) from None
        except PyMongoError as e:
            raise LedgerError(f"{name}: {_clean(e, self.uri)}") from None

    def box_ids(self, limit: int = 100_000) -> list[str]:
        """Every box with a `boxes` document (one per key: a small collection)."""
        seen: dict[str, None] = {}
        for doc in self._find("boxes", {}, "_id", limit, {"box": 1}):
            if isinstance(doc.get("box"), str):
                seen[doc["box"]] = None
        return list(seen)

    def after(self, name: str, box: str, n: int, limit: int) -> Iterator[dict]:
        """A box's documents in `name` numbered above `n`, by number."""
        return self._find(name, {"box": box, "n": {"$gt": n}}, "n", limit)

    def numbered(self, name: str, box: str, first: int, last: int, limit: int) -> Iterator[dict]:
        """A box's documents in `name` numbered first..last (a hole being re-checked)."""
        return self._find(name, {"box": box, "n": {"$gte": first, "$lte": last}}, "n", limit)

    def by_ids(self, name: str, ids: list[str]) -> Iterator[dict]:
        return self._find(name, {"_id": {"$in": ids}}, "_id", len(ids))

    def everything(self, name: str, box: str, limit: int = 10**9) -> Iterator[dict]:
        """All of a box's documents in `name`, by number (rtcc_verify)."""
        return self._find(name, {"box": box}, "n", limit)

    def ping(self) -> None:
        try:
            with pymongo.timeout(settings.RTCC_TIMEOUT_SECONDS):
                _client(self.uri).admin.command("ping")
        except PyMongoError as e:
            raise LedgerError(f"ping: {_clean(e, self.uri)}") from None
