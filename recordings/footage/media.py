"""Serving segment files with HTTP Range, so browsers can seek in fragmented MP4."""

import re
from pathlib import Path

from django.http import FileResponse, HttpResponse, StreamingHttpResponse

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _chunks(path: Path, start: int, length: int):
    with open(path, "rb") as f:
        f.seek(start)
        while length > 0:
            block = f.read(min(CHUNK, length))
            if not block:
                return
            length -= len(block)
            yield block


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range, None if unsatisfiable or malformed."""
    m = RANGE.match(header.strip())
    if not m or (not m[1] and not m[2]):
        return None
    if m[1]:
        first = int(m[1])
        last = min(int(m[2]), size - 1) if m[2] else size - 1
    else:
        first, last = max(0, size - int(m[2])), size - 1
    if first >= size or last < first:
        return None
    return first, last


def ranged_response(
    request, path: Path, content_type: str = "video/mp4", download_name: str | None = None
) -> HttpResponse:
    size = path.stat().st_size
    header = request.headers.get("Range", "")
    if header and "," not in header:  # several ranges: answer with the whole file (RFC 9110)
        span = parse_range(header, size)
        if span is None:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        first, last = span
        response = StreamingHttpResponse(
            _chunks(path, first, last - first + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    else:
        response = FileResponse(open(path, "rb"), content_type=content_type)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response
