"""SHA-256 helpers shared by the segment chain and the audit chain (docs/integrity.md)."""

import hashlib
from pathlib import Path

GENESIS = "0" * 64


def sha256_file(path: Path | str) -> str:
    """Streamed SHA-256 of a file (hashlib: ~4x faster than sha256sum on x86)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
