"""Chain links of segments. The formula lives in crimebox/chain.py (shared with the RTCC
console) and is written out in docs/integrity.md."""

from datetime import datetime

from crimebox.chain import CHAIN_FIELDS, CHAIN_FORMULA, CHAIN_VERSION, segment_link
from crimebox.utc import utc_iso

__all__ = ["CHAIN_FIELDS", "CHAIN_FORMULA", "CHAIN_VERSION", "segment_chain_hash"]


def segment_chain_hash(
    *,
    camera_id: int,
    sequence: int,
    prev: str,
    sha256: str,
    start: datetime,
    end: datetime,
    size: int,
) -> str:
    """Chain hash of one segment: covers the previous link, this file's hash, its times and size."""
    return segment_link(
        camera_id=camera_id,
        sequence=sequence,
        prev=prev,
        sha256=sha256,
        start_exact=utc_iso(start),
        end_exact=utc_iso(end),
        size=size,
    )
