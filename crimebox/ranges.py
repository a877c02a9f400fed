"""HTTP byte ranges (RFC 9110 §14) of a file: the box's footage and the console's packages.

A Range header that is malformed, of another unit or lists several ranges is ignored (the whole
file, 200); one that is well formed but outside the file is Unsatisfiable (416).
"""

import re

RANGE = re.compile(r"bytes=(\d*)-(\d*)")
BEYOND = 10**18  # bytes: more than any file


class Unsatisfiable(Exception):
    """A well-formed byte range that lies outside the file (416)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range; None when the header is to be ignored.

    Raises Unsatisfiable for a valid range that selects nothing of a file of `size` bytes.
    """
    m = RANGE.fullmatch(header.strip())
    if not m or (not m[1] and not m[2]):
        return None  # another unit, several ranges, or not a range at all
    start, end = _position(m[1]), _position(m[2])
    if start is not None and end is not None and end < start:
        return None  # last < first: an invalid range-spec, so the header is ignored
    if start is not None:
        first = start
        last = min(end, size - 1) if end is not None else size - 1
    else:
        assert end is not None
        first, last = max(0, size - end), size - 1
        if end == 0:
            raise Unsatisfiable
    if first >= size:
        raise Unsatisfiable
    return first, last


def _position(digits: str) -> int | None:
    """A byte position; one of 19 digits or more is past any file (and a 4,301-digit one is
    past what int() reads), so it is read as that."""
    if not digits:
        return None
    return int(digits) if len(digits) < 19 else BEYOND
