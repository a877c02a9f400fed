"""The canonical encoding of a document and its Ed25519 signature (docs/sync.md, "Signature").

The one implementation: the box signs with it (sync/), the RTCC console verifies with it (rtcc/).

canonical(doc) = UTF-8 of JSON with keys sorted, no spaces, non-ASCII kept as is, the `sig`
field left out, and each date written as {"$date": "YYYY-MM-DDTHH:MM:SS.mmmZ"} (BSON dates are
milliseconds: documents hold only millisecond times). Documents hold no floating-point numbers,
so the encoding is the same in every language. The signature is Ed25519 over those bytes.
"""

import base64
import json
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

ALGORITHM = "ed25519"


class Signer(Protocol):
    """What signs: the box's key, or the RTCC console's (crimebox.keys.SigningKey)."""

    @property
    def fingerprint(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


def ms(dt: datetime) -> datetime:
    """A time truncated to the millisecond, in UTC: what a BSON date can hold."""
    dt = dt.astimezone(UTC)
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def ms_or_none(dt: datetime | None) -> datetime | None:
    return None if dt is None else ms(dt)


def _date(value: datetime) -> dict:
    if value.tzinfo is None:  # pymongo hands back naive UTC unless tz_aware
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    # what ms(value) keeps, written without building the truncated copy
    return {"$date": f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"}


def _encode(value: Any) -> Any:
    # The console verifies every document it ingests: the common types are tested first, by
    # exact type (a third of the encoding's time went to isinstance chains).
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return _date(value)
    if isinstance(value, float):
        raise TypeError("documents hold no floating-point numbers")
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def canonical(doc: dict) -> bytes:
    body = {k: v for k, v in doc.items() if k != "sig"}
    return json.dumps(
        _encode(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def sign(doc: dict, key: Signer) -> dict:
    """The document with its `sig` field: {alg, key (fingerprint), value (base64)}."""
    value = base64.b64encode(key.sign(canonical(doc))).decode()
    return {**doc, "sig": {"alg": ALGORITHM, "key": key.fingerprint, "value": value}}


def verify(doc: dict, public_key: Ed25519PublicKey) -> bool:
    """Whether `doc`'s signature is good for `public_key`."""
    sig = doc.get("sig") or {}
    if sig.get("alg") != ALGORITHM:
        return False
    try:
        value = base64.b64decode(sig.get("value", ""), validate=True)
    except ValueError:  # binascii.Error
        return False
    return verify_bytes(canonical(doc), value, public_key)


def verify_bytes(data: bytes, signature: bytes, public_key: Ed25519PublicKey) -> bool:
    """Whether `signature` is `public_key`'s Ed25519 signature of `data`: the one check of every
    signature the box or the console reads (replicated documents, package manifests).

    libsodium checks it, not cryptography: the console verifies every document it ingests, and
    libsodium's Ed25519 verification takes about half the CPU of OpenSSL 3.0's (55 against
    104 µs for a segment document). Both check the same RFC 8032 signatures; libsodium also
    refuses small-order public keys and non-canonical encodings, which no key made by
    cryptography or libsodium produces. The raw key costs 0.5 µs to take out of the key object.
    """
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        VerifyKey(raw).verify(data, signature)  # a signature of the wrong length: ValueError
    except (BadSignatureError, ValueError):
        return False
    return True


def to_body(doc: dict) -> str:
    """The outbox's stored text: the canonical JSON of the whole document, `sig` included."""
    return json.dumps(_encode(doc), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$date"}:
            return datetime.fromisoformat(value["$date"])  # ...Z: UTC (and 10x strptime)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def from_body(body: str) -> dict:
    """The document to insert (dates as datetimes, so BSON stores them as dates)."""
    return _decode(json.loads(body))


def same(local: dict, remote: dict) -> bool:
    """Whether the datacenter's copy is the document we sent (field order and date types aside)."""
    return canonical(local) == canonical(remote) and local.get("sig") == remote.get("sig")
