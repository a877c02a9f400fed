"""Signature checks in one worker process, so a chunk's are checked while the one before is
written (docs/rtcc.md, "Measured"). A thread cannot do it: the GIL (measured).

The worker only answers "which of these documents verify with this raw key", in order, with the
shared crimebox.signature.verify; the ingest still decides everything, and where it has no
answer (the worker off, dead, or the box's key changed meanwhile) it verifies inline as before.
The worker gets SIGKILL when the ingest dies (kill -9 included); a worker that dies is noticed
(BrokenProcessPool), its chunk verified inline, and a new one started at the next pass.

This module imports no Django at import time: the worker imports it (spawn).
"""

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crimebox.signature import verify

logger = logging.getLogger("rtcc.ingest")

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with(parent: int) -> None:
    """In the worker, before any work: SIGKILL when the thread that started it ends (the
    ingest's main thread: Verifier.start), so a killed ingest leaves no orphan."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}")
    if os.getppid() != parent:  # the ingest died before the signal was set
        os._exit(1)
    # Ctrl-C in the ingest's terminal (or a TERM sent to the whole group) is the ingest's to
    # handle: it stops between chunks; the worker ends with it, never on its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _pid() -> int:
    return os.getpid()


def check(raw_key: bytes, docs: list[dict]) -> list[bool | None]:
    """In the worker: whether each document's signature verifies with the key (None: the
    document could not even be encoded; the ingest then judges it itself)."""
    key = Ed25519PublicKey.from_public_bytes(raw_key)
    out: list[bool | None] = []
    for doc in docs:
        try:
            out.append(verify(doc, key))
        except Exception:  # a malformed document: the ingest's own checks name it
            out.append(None)
    return out


class Verifier:
    """The one worker process, kept between passes; owned by the ingest's main thread."""

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.pid = 0

    def start(self) -> None:
        """Call from the main thread (the worker's parent-death signal follows the thread
        that starts it): at each pass, a no-op while the worker lives."""
        if self.pool is not None:
            return
        pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_die_with,
            initargs=(os.getpid(),),
        )
        try:
            self.pid = pool.submit(_pid).result(timeout=60)  # the worker starts here
        except Exception as e:
            pool.shutdown(wait=False, cancel_futures=True)
            logger.warning("ingest: no verification worker (%r): signatures checked inline", e)
            return
        self.pool = pool

    def submit(self, raw_key: bytes, docs: list[dict]) -> "Future[list[bool | None]] | None":
        """The chunk's checks under way, or None (no worker: the ingest verifies inline)."""
        if self.pool is None or not docs:
            return None
        try:
            return self.pool.submit(check, raw_key, docs)
        except BrokenProcessPool as e:  # died between chunks: said by answers(), main thread
            failed: Future[list[bool | None]] = Future()
            failed.set_exception(e)
            return failed
        except RuntimeError:  # shut down meanwhile
            return None

    def answers(self, future: "Future[list[bool | None]] | None") -> list[bool | None] | None:
        """The chunk's answers, in its order; None when the worker died meanwhile (noticed,
        logged, and a new one is started at the next pass)."""
        if future is None:
            return None
        try:
            return future.result()
        except BrokenProcessPool:
            if self.pool is not None:  # said once, not for each chunk still queued
                logger.warning(
                    "ingest: the verification worker (pid %d) died: its chunks are verified "
                    "inline, a new worker starts at the next pass",
                    self.pid,
                )
            self.stop()
        except Exception as e:  # e.g. a document that cannot be pickled: that chunk inline
            logger.warning("ingest: the verification worker could not check a chunk: %r", e)
        return None

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool, self.pid = None, 0


VERIFIER = Verifier()
