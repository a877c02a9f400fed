"""crimebox/signature.py: signed with cryptography, verified with libsodium, one outcome."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.signing import SigningKey as NaclSigningKey
from nacl.signing import VerifyKey

from crimebox.keys import SigningKey, fingerprint_of
from crimebox.signature import ALGORITHM, canonical, sign, verify, verify_bytes


def make_doc() -> dict:
    return {"_id": "box-1:segments:7", "box": "box-1", "n": 7, "kind": "segment", "é": "ü"}


def with_sig(doc: dict, value: bytes, key: Ed25519PublicKey) -> dict:
    b64 = base64.b64encode(value).decode()
    return {**doc, "sig": {"alg": ALGORITHM, "key": fingerprint_of(key), "value": b64}}


def test_cryptography_signature_verifies_with_libsodium_and_back():
    key = SigningKey(Ed25519PrivateKey.generate())
    doc = sign(make_doc(), key)
    assert verify(doc, key.public_key)
    raw = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    VerifyKey(raw).verify(canonical(doc), base64.b64decode(doc["sig"]["value"]))

    nacl_key = NaclSigningKey.generate()
    public = Ed25519PublicKey.from_public_bytes(bytes(nacl_key.verify_key))
    value = nacl_key.sign(canonical(make_doc())).signature
    public.verify(value, canonical(make_doc()))  # cryptography accepts libsodium's signature
    assert verify(with_sig(make_doc(), value, public), public)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: {**d, "n": 8},  # a field changed after signing
        lambda d: {**d, "sig": {**d["sig"], "alg": "rsa"}},
        lambda d: {**d, "sig": {**d["sig"], "value": d["sig"]["value"][:-8] + "AAAAAAA="}},
        lambda d: {**d, "sig": {**d["sig"], "value": base64.b64encode(b"x" * 63).decode()}},
        lambda d: {**d, "sig": {**d["sig"], "value": base64.b64encode(b"x" * 65).decode()}},
        lambda d: {**d, "sig": {**d["sig"], "value": ""}},
        lambda d: {**d, "sig": {**d["sig"], "value": "not base64!"}},
        lambda d: {k: v for k, v in d.items() if k != "sig"},
    ],
)
def test_anything_but_the_signed_document_does_not_verify(change):
    key = SigningKey(Ed25519PrivateKey.generate())
    assert verify(change(sign(make_doc(), key)), key.public_key) is False


def test_another_key_does_not_verify():
    doc = sign(make_doc(), SigningKey(Ed25519PrivateKey.generate()))
    assert verify(doc, Ed25519PrivateKey.generate().public_key()) is False


def test_small_order_key_does_not_verify_anything():
    # The identity point as a public key, and R = identity, S = 0: OpenSSL 3.0 accepts this
    # "signature" for any message (cryptography's verify passes); libsodium refuses the key.
    weak = Ed25519PublicKey.from_public_bytes(bytes([1]) + bytes(31))
    value = bytes([1]) + bytes(63)
    weak.verify(value, canonical(make_doc()))
    assert verify(with_sig(make_doc(), value, weak), weak) is False


def test_package_manifests_are_checked_by_the_same_verification():
    # Evidence packages' manifest.sig and SHA256SUMS.sig go through verify_bytes too: the weak
    # key's "signature of anything" that OpenSSL accepts is refused there as well.
    weak = Ed25519PublicKey.from_public_bytes(bytes([1]) + bytes(31))
    manifest = b'{"files": {}}'
    weak.verify(bytes([1]) + bytes(63), manifest)
    assert verify_bytes(manifest, bytes([1]) + bytes(63), weak) is False
    key = Ed25519PrivateKey.generate()
    assert verify_bytes(manifest, key.sign(manifest), key.public_key()) is True
    assert verify_bytes(manifest + b" ", key.sign(manifest), key.public_key()) is False
    assert verify_bytes(manifest, b"", key.public_key()) is False
