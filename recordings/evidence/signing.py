"""The box's Ed25519 signing key: generated once into the data directory, never leaves it."""

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

PRIVATE_NAME = "box_signing_key.pem"


@dataclass
class BoxKey:
    private_key: Ed25519PrivateKey

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw 32-byte public key, hex (shown in the admin and in manifests)."""
        return fingerprint_of(self.private_key.public_key())

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def fingerprint_of(public_key) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def ensure_signing_key() -> BoxKey:
    """Load the box key, creating it (mode 0600, O_EXCL) on first use."""
    path = Path(settings.KEYS_DIR) / PRIVATE_NAME
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
            return BoxKey(serialization.load_pem_private_key(data, password=None))
        time.sleep(0.02)
    raise RuntimeError(f"unreadable signing key {path}")
