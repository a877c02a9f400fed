"""Serving segment files and evidence packages to slow clients.

- HTTP Range (RFC 9110 §14), so browsers can seek in fragmented MP4; a Range header that is
  malformed, of another unit or lists several ranges is ignored (the whole file, 200), one that
  is well formed but outside the file gets 416.
- At most `MAX_DOWNLOADS` responses stream at once across every web process (one lock file per
  slot in the data directory, released by the kernel if a process dies); past that a clear 503
  with Retry-After, so threads stay free for the admin and /health.
- The audit entry is written when the response closes and says what was actually sent: the
  whole file, or interrupted after N bytes. A HEAD sends nothing and writes nothing.
"""

import fcntl
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse

from audit import log

logger = logging.getLogger(__name__)

RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# Small enough that "sent" is known to within 64 KiB on a 150 KB/s link.
CHUNK = 64 * 1024
RETRY_AFTER_SECONDS = 30


class Unsatisfiable(Exception):
    """A well-formed byte range that lies outside the file (416)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range; None when the header is to be ignored.

    Raises Unsatisfiable for a valid range that selects nothing of a file of `size` bytes.
    """
    m = RANGE.fullmatch(header.strip())
    if not m or (not m[1] and not m[2]):
        return None  # another unit, several ranges, or not a range at all
    if m[1] and m[2] and int(m[2]) < int(m[1]):
        return None  # last < first: an invalid range-spec, so the header is ignored
    if m[1]:
        first = int(m[1])
        last = min(int(m[2]), size - 1) if m[2] else size - 1
    else:
        first, last = max(0, size - int(m[2])), size - 1
        if int(m[2]) == 0:
            raise Unsatisfiable
    if first >= size:
        raise Unsatisfiable
    return first, last


@dataclass
class Audit:
    """The entry a response writes when it closes (audit.log.record arguments)."""

    action: str
    target: str
    camera: object = None
    detail: dict = field(default_factory=dict)
    # Streams that sent nothing (a browser probing a video and cancelling) are not written.
    skip_empty: bool = False


class Slot:
    """One of MAX_DOWNLOADS concurrent streams, held as an flock on a file until released."""

    def __init__(self, fd: int):
        self.fd = fd

    @classmethod
    def acquire(cls) -> "Slot | None":
        folder = Path(settings.DATA_DIR) / "streams"
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        for n in range(settings.MAX_DOWNLOADS):
            fd = os.open(folder / f"slot-{n}.lock", os.O_RDWR | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return cls(fd)
        return None

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor drops the lock
            self.fd = -1


class MeteredFile:
    """Yields `length` bytes of a file from `first`; on close reports what the server sent.

    A block counts as sent once the server asks for the next one (it writes each block in full
    before that), so an interrupted transfer is counted to within one block and the kernel's
    socket buffer.
    """

    def __init__(self, path: Path, first: int, length: int, on_close):
        self.file = open(path, "rb")  # noqa: SIM115  closed in close()
        self.file.seek(first)
        self.remaining = length
        self.sent = 0
        self.pending = 0
        self.finished = False
        self.on_close = on_close

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        self.sent += self.pending
        self.pending = 0
        if self.file.closed:
            raise StopIteration
        block = self.file.read(min(CHUNK, self.remaining)) if self.remaining > 0 else b""
        if not block:
            self.finished = True
            raise StopIteration
        self.remaining -= len(block)
        self.pending = len(block)
        return block

    def close(self) -> None:
        if self.file.closed:
            return
        self.file.close()
        self.on_close(self.sent, self.finished and self.remaining == 0)


def _audit_closed(request, audit: Audit, slot: Slot, span: str, length: int):
    def on_close(sent: int, complete: bool) -> None:
        slot.release()
        if audit is None or (audit.skip_empty and sent == 0):
            return
        detail = {
            **audit.detail,
            "result": "complete" if complete else "interrupted",
            "bytes_sent": sent,
            "bytes": length,
        }
        if span:
            detail["range"] = span
        try:
            log.record(
                audit.action,
                request=request,
                camera=audit.camera,
                target=audit.target,
                detail=detail,
            )
        except Exception:  # the bytes are gone either way: never lose the log line too
            logger.exception("could not audit %s: %s", audit.target, detail)

    return on_close


def too_busy() -> HttpResponse:
    limit = settings.MAX_DOWNLOADS
    response = HttpResponse(
        f"The box is already sending {limit} files at once (its limit). "
        f"Try again in {RETRY_AFTER_SECONDS} seconds.\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response._has_been_logged = True  # logged once above, not again as a server error
    return response


def ranged_response(
    request,
    path: Path,
    content_type: str = "video/mp4",
    download_name: str | None = None,
    audit: Audit | None = None,
) -> HttpResponse:
    """The file (or the requested range of it), streamed and audited as described above."""
    size = path.stat().st_size
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
        slot = Slot.acquire()
        if slot is None:
            logger.warning("download refused: %s streams already running", settings.MAX_DOWNLOADS)
            return too_busy()
        on_close = _audit_closed(request, audit, slot, f"{first}-{last}" if span else "", length)
        try:
            body = MeteredFile(path, first, length, on_close)
        except OSError:
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
