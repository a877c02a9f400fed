"""SHA-256 helpers shared by the segment chain, the audit chain and evidence packages
(docs/integrity.md)."""

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO

GENESIS = "0" * 64
BLOCK = 1 << 20


def sha256_stream(src: IO[bytes], copy_to: IO[bytes] | None = None) -> str:
    """SHA-256 of everything `src` yields (a zip member, a pipe); also written on to
    `copy_to` in the same pass when given."""
    digest = hashlib.sha256()
    for block in iter(lambda: src.read(BLOCK), b""):
        digest.update(block)
        if copy_to is not None:
            copy_to.write(block)
    return digest.hexdigest()


def sha256_file(path: Path | str) -> str:
    """Streamed SHA-256 of a file (hashlib: ~4x faster than sha256sum on x86)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def chain_link(version: str, fields: Iterable[str]) -> str:
    """One link of a hash chain: SHA-256 of the version and the fields, one per line."""
    return hashlib.sha256("\n".join([version, *fields]).encode()).hexdigest()
