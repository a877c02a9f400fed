"""Serving segment files and evidence packages to slow clients.

- HTTP Range (RFC 9110 §14), so browsers can seek in fragmented MP4; a Range header that is
  malformed, of another unit or lists several ranges is ignored (the whole file, 200), one that
  is well formed but outside the file gets 416.
- At most `MAX_DOWNLOADS` responses stream at once across every web process (one lock file per
  slot in the data directory, released by the kernel if a process dies); past that a clear 503
  with Retry-After, so threads stay free for the admin and /health. One user holds at most
  `MAX_DOWNLOADS_PER_USER` of them (past that a 429), so nobody's stalled downloads starve
  everyone else.
- The audit entry is written when the response closes and says what the socket accepted:
  every byte ("sent"), or "interrupted" after N bytes. That is all the server can know: the
  kernel's buffers (megabytes) lie between the socket and the client, which may have read none
  of it, so the entry says the client received "at most" that. A HEAD sends nothing and
  writes nothing. The player's requests are instead parts of one viewing (audit/viewings.py):
  one entry per person and segment, with the bytes they took.
"""

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from audit import log, viewings
from crimebox import slots
from crimebox.ranges import Unsatisfiable, parse_range

logger = logging.getLogger(__name__)

# Small enough that "sent" is known to within 64 KiB on a 150 KB/s link.
CHUNK = 64 * 1024
RETRY_AFTER_SECONDS = 30


@dataclass
class Audit:
    """The entry a response writes when it closes (audit.log.record arguments)."""

    action: str
    target: str
    camera: object = None
    detail: dict = field(default_factory=dict)
    # Streams that sent nothing (a browser probing a video and cancelling) are not written.
    skip_empty: bool = False
    # Part of a viewing (the player's requests): no entry per response (audit/viewings.py).
    viewing: bool = False


class Busy(Exception):
    def __init__(self, yours: bool):
        super().__init__("user's share" if yours else "box full")
        self.yours = yours


class Slot:
    """One of MAX_DOWNLOADS concurrent streams, and one of its user's MAX_DOWNLOADS_PER_USER,
    each held as an flock on a file until released (the kernel drops them if a process dies)."""

    def __init__(self, fds: list[int]):
        self.fds = fds

    @classmethod
    def acquire(cls, user: object = None) -> "Slot":
        """Raises Busy when the user already holds their share, or the box is full."""
        folder = Path(settings.DATA_DIR) / "streams"
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        who = f"user-{user if user is not None else 'anonymous'}"
        box = slots.take(folder, "slot", settings.MAX_DOWNLOADS)
        if box is None:
            raise Busy(yours=False)
        own = slots.take(folder, who, settings.MAX_DOWNLOADS_PER_USER)
        if own is None:
            os.close(box)
            raise Busy(yours=True)
        return cls([box, own])

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)  # closing the descriptor drops the lock
        self.fds = []


class MeteredFile:
    """Yields `length` bytes of a file from `first`; on close reports what the server sent.

    A block counts as sent once the server asks for the next one (it writes each block in full
    before that), so an interrupted transfer is counted to within one block and the kernel's
    socket buffer.
    """

    def __init__(
        self,
        path: Path,
        first: int,
        length: int,
        on_close: Callable[[int, bool], None],
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.file = open(path, "rb")  # noqa: SIM115  closed in close()
        self.file.seek(first)
        self.remaining = length
        self.sent = 0
        self.pending = 0
        self.finished = False
        self.on_close = on_close
        # Called with the bytes sent since its last call, at most every PROGRESS_SECONDS.
        self.on_progress = on_progress
        self.reported = 0
        self.reported_at = time.monotonic()

    def __iter__(self) -> "MeteredFile":
        return self

    def __next__(self) -> bytes:
        self.sent += self.pending
        self.pending = 0
        if self.on_progress and time.monotonic() - self.reported_at >= viewings.PROGRESS_SECONDS:
            self.report()
        if self.file.closed:
            raise StopIteration
        block = self.file.read(min(CHUNK, self.remaining)) if self.remaining > 0 else b""
        if not block:
            self.finished = True
            raise StopIteration
        self.remaining -= len(block)
        self.pending = len(block)
        return block

    def report(self) -> None:
        self.reported_at = time.monotonic()
        if self.sent > self.reported and self.on_progress:
            self.on_progress(self.sent - self.reported)
            self.reported = self.sent

    def close(self) -> None:
        if self.file.closed:
            return
        self.file.close()
        if self.on_progress:
            self.report()
        self.on_close(self.sent, self.finished and self.remaining == 0)


def _audit_closed(
    request: HttpRequest, audit: Audit | None, slot: Slot, span: str, length: int
) -> Callable[[int, bool], None]:
    def on_close(sent: int, complete: bool) -> None:
        slot.release()
        if audit is None or audit.viewing or (audit.skip_empty and sent == 0):
            return
        log.record_transfer(
            audit.action,
            request=request,
            camera=audit.camera,
            target=audit.target,
            detail=audit.detail,
            sent=sent,
            length=length,
            complete=complete,
            span=span,
        )

    return on_close


def _viewing(request: HttpRequest, audit: Audit, size: int) -> Callable[[int], None]:
    """Joins the request to its viewing before any byte is sent; returns what counts its bytes."""
    viewings.touch(
        request, camera=audit.camera, target=audit.target, file_bytes=size, action=audit.action
    )

    def on_progress(sent: int) -> None:
        try:
            viewings.took(
                request, camera=audit.camera, target=audit.target, sent=sent, action=audit.action
            )
        except Exception:  # the bytes are gone either way: never lose the log line too
            logger.exception("could not count %s bytes of %s", sent, audit.target)

    return on_progress


def too_busy(yours: bool = False) -> HttpResponse:
    if yours:
        share = settings.MAX_DOWNLOADS_PER_USER
        text = (
            f"You are already receiving {share} file{'s' if share != 1 else ''} at once "
            f"(each person's share of the box's {settings.MAX_DOWNLOADS}). Close one, or try "
            f"again in {RETRY_AFTER_SECONDS} seconds.\n"
        )
    else:
        text = (
            f"The box is already sending {settings.MAX_DOWNLOADS} files at once (its limit). "
            f"Try again in {RETRY_AFTER_SECONDS} seconds.\n"
        )
    response = HttpResponse(
        text, status=429 if yours else 503, content_type="text/plain; charset=utf-8"
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # Logged once above, not again as a server error (Django's private flag).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def ranged_response(
    request: HttpRequest,
    path: Path,
    content_type: str = "video/mp4",
    download_name: str | None = None,
    audit: Audit | None = None,
) -> HttpResponseBase:
    """The file (or the requested range of it), streamed and audited as described above."""
    size = path.stat().st_size
    response: HttpResponseBase
    try:
        span = parse_range(request.headers.get("Range", ""), size)
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    first, last = span or (0, size - 1)
    length = last - first + 1 if size else 0
    if request.method == "HEAD":
        response = HttpResponse(status=206 if span else 200, content_type=content_type)
    else:
        user = getattr(request, "user", None)
        try:
            slot = Slot.acquire(user.pk if user is not None else None)
        except Busy as e:
            logger.warning("download refused: %s", e)
            return too_busy(yours=e.yours)
        on_close = _audit_closed(request, audit, slot, f"{first}-{last}" if span else "", length)
        try:
            on_progress = _viewing(request, audit, size) if audit and audit.viewing else None
            body = MeteredFile(path, first, length, on_close, on_progress)
        except Exception:
            slot.release()
            raise
        response = StreamingHttpResponse(
            body, status=206 if span else 200, content_type=content_type
        )
    if span:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response
