"""Chain links of segments. The chain formula is in docs/integrity.md."""

import hashlib
from datetime import datetime

from crimebox.utc import utc_iso

CHAIN_VERSION = "crimebox-chain-v1"


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
    message = "\n".join(
        [
            CHAIN_VERSION,
            str(camera_id),
            str(sequence),
            prev,
            sha256,
            utc_iso(start),
            utc_iso(end),
            str(size),
        ]
    )
    return hashlib.sha256(message.encode()).hexdigest()
