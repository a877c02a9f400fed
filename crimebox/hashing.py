"""SHA-256 helpers shared by the segment chain, the audit chain and evidence packages
(docs/integrity.md)."""

import hashlib
import queue
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Protocol

GENESIS = "0" * 64
BLOCK = 1 << 20


class Readable(Protocol):
    """What sha256_stream reads from: a file, a zip member, a pipe, or a bounded reader."""

    def read(self, n: int, /) -> bytes: ...


def sha256_stream(src: Readable, copy_to: IO[bytes] | None = None) -> str:
    """SHA-256 of everything `src` yields (a zip member, a pipe); also written on to
    `copy_to` in the same pass when given."""
    digest = hashlib.sha256()
    for block in iter(lambda: src.read(BLOCK), b""):
        digest.update(block)
        if copy_to is not None:
            copy_to.write(block)
    return digest.hexdigest()


class BackgroundSha256:
    """SHA-256 computed in a thread of its own (hashlib releases the GIL on big blocks), so
    two hashes of the same bytes and the copy that writes them run on separate cores.
    update() takes immutable bytes only: the thread reads them later. Use as a context
    manager: leaving it waits for the digest (and stops the thread on an error too)."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for block in iter(self._blocks.get, None):
            self._digest.update(block)

    def update(self, block: bytes) -> None:
        self._blocks.put(block)

    def __enter__(self) -> "BackgroundSha256":
        return self

    def __exit__(self, *exc: object) -> None:
        self._blocks.put(None)
        self._thread.join()

    def hexdigest(self) -> str:
        if self._thread.is_alive():
            raise RuntimeError("the digest is known once the with block has ended")
        return self._digest.hexdigest()


def sha256_file(path: Path | str) -> str:
    """Streamed SHA-256 of a file (hashlib: ~4x faster than sha256sum on x86)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def chain_link(version: str, fields: Iterable[str]) -> str:
    """One link of a hash chain: SHA-256 of the version and the fields, one per line."""
    return hashlib.sha256("\n".join([version, *fields]).encode()).hexdigest()
