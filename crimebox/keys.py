"""Ed25519 signing keys: the box's (recordings.evidence.signing) and the RTCC console's.

A key is generated once into a file (mode 0600, O_EXCL, fsynced), never leaves it, and is named
by its fingerprint: the SHA-256 of the raw 32-byte public key, hex.
"""

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


@dataclass
class SigningKey:
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw 32-byte public key, hex (shown in the admin and in manifests)."""
        return fingerprint_of(self.public_key)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def fingerprint_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_from_pem(pem: bytes | str) -> Ed25519PublicKey:
    """An Ed25519 public key from its PEM; ValueError for anything else."""
    data = pem.encode() if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def load_or_create(path: Path) -> SigningKey:
    """Load the key at `path`, creating it (mode 0600, O_EXCL) on first use."""
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
    for _ in range(50):  # a concurrent creator may still be writing
        data = path.read_bytes()
        if data.strip().endswith(b"-----END PRIVATE KEY-----"):
            key = serialization.load_pem_private_key(data, password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise RuntimeError(f"{path} is not an Ed25519 private key")
            return SigningKey(key)
        time.sleep(0.02)
    raise RuntimeError(f"unreadable signing key {path}")
