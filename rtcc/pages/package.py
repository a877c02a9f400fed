"""The download of a verified clip package, for investigators.

Only a READY job's file inside the evidence store is ever served: an integrity alert's package
lives in the quarantine directory and has no way out through the console. The file is streamed
a block at a time (FileResponse over a bounded reader, never read into memory), one byte range
when asked (browsers and download managers resume a cut download with it), as an attachment.
The audit entry is written when the response closes and says what the socket accepted: every
byte ("sent") or "interrupted" after N bytes (the client received at most that).
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods

from audit import log
from audit.models import AuditEvent
from crimebox.ranges import Unsatisfiable, parse_range

from .. import roles
from ..models import ClipJob
from ..retrieval_verify import evidence_dir, quarantine_dir
from .access import page

logger = logging.getLogger(__name__)

BLOCK = 64 * 1024  # what "sent" is known to within


class RangeReader:
    """`length` bytes of a file from `first`; closing it reports how many were read."""

    def __init__(self, path: Path, first: int, length: int, on_close: Callable[[int], None]):
        self.file: BinaryIO = path.open("rb")
        self.file.seek(first)
        self.left, self.sent, self.on_close, self.closed = length, 0, on_close, False

    def read(self, size: int = -1) -> bytes:
        n = self.left if size < 0 else min(size, self.left)
        data = self.file.read(n) if n > 0 else b""
        self.left -= len(data)
        self.sent += len(data)
        return data

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.file.close()
        self.on_close(self.sent)


def offered(job: ClipJob) -> Path | None:
    """The package a person may have: a READY job's file in the evidence store, or None."""
    if job.state != ClipJob.State.READY or not job.path:
        return None
    path = Path(job.path).resolve()
    if not path.is_relative_to(evidence_dir().resolve()) or path.is_relative_to(
        quarantine_dir().resolve()
    ):
        logger.error("clip %s: its path %s is outside the evidence store", job, path)
        return None
    return path if path.is_file() else None


def audit_on_close(request: HttpRequest, job: ClipJob, span: str, length: int) -> Callable:
    def closed(sent: int) -> None:
        log.record_transfer(
            AuditEvent.Action.DOWNLOAD,
            request=request,
            target=f"rtcc package {job.request}",
            detail={
                "event": "clip package downloaded",
                "rtcc_request": job.request,
                "box": job.box_id,
                "camera": job.camera,
                "case": job.case_number,
                "package_sha256": job.package_sha256,
            },
            sent=sent,
            length=length,
            complete=sent == length,
            span=span,
        )

    return closed


@page(roles.CLIP_REQUEST)
@require_http_methods(["GET", "HEAD"])
def clip_download(request: HttpRequest, request_id: str) -> HttpResponseBase:
    job = get_object_or_404(ClipJob, request=request_id)
    path = offered(job)
    if path is None:
        raise Http404("This job has no verified package to download.")
    size = path.stat().st_size
    try:
        span = parse_range(request.headers.get("Range", ""), size)
    except Unsatisfiable:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    first, last = span or (0, size - 1)
    length = last - first + 1 if size else 0
    name = f"{job.box_id}_{job.request}.zip"
    response: HttpResponseBase
    if request.method == "HEAD":
        response = HttpResponse(status=206 if span else 200, content_type="application/zip")
        response["Content-Disposition"] = content_disposition_header(True, name) or ""
    else:
        where = f"{first}-{last}" if span else ""
        body = RangeReader(path, first, length, audit_on_close(request, job, where, length))
        response = FileResponse(
            body,
            status=206 if span else 200,
            content_type="application/zip",
            as_attachment=True,
            filename=name,
        )
        response.block_size = BLOCK
    if span:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    return response
