"""Chain links of segments. The chain formula is in docs/integrity.md."""

from datetime import datetime

from crimebox.hashing import chain_link
from crimebox.utc import utc_iso

CHAIN_VERSION = "crimebox-chain-v1"
# The fields of a link after the version, in order; the manifests' chain_formula names them.
CHAIN_FIELDS = ("camera_id", "sequence", "prev_chain_hash", "sha256", "start", "end", "size")
CHAIN_FORMULA = f"sha256('\\n'.join([{CHAIN_VERSION!r}, {', '.join(CHAIN_FIELDS)}]))"


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
    values = {
        "camera_id": str(camera_id),
        "sequence": str(sequence),
        "prev_chain_hash": prev,
        "sha256": sha256,
        "start": utc_iso(start),
        "end": utc_iso(end),
        "size": str(size),
    }
    return chain_link(CHAIN_VERSION, (values[name] for name in CHAIN_FIELDS))
