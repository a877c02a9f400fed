"""The segment chain's formula, in one place for the box (recordings) and the RTCC console.

Chain hash of one segment: SHA-256 over the version and the fields of CHAIN_FIELDS, one per line
(docs/integrity.md). Times are their exact UTC text (crimebox.utc.utc_iso), as the segments'
documents carry them in `start_exact` and `end_exact`.
"""

from crimebox.hashing import chain_link

CHAIN_VERSION = "crimebox-chain-v1"
# The fields of a link after the version, in order; the manifests' chain_formula names them.
CHAIN_FIELDS = ("camera_id", "sequence", "prev_chain_hash", "sha256", "start", "end", "size")
CHAIN_FORMULA = f"sha256('\\n'.join([{CHAIN_VERSION!r}, {', '.join(CHAIN_FIELDS)}]))"


def segment_link(
    *,
    camera_id: int,
    sequence: int,
    prev: str,
    sha256: str,
    start_exact: str,
    end_exact: str,
    size: int,
) -> str:
    """Chain hash of one segment from its fields as text (times: utc_iso)."""
    values = {
        "camera_id": str(camera_id),
        "sequence": str(sequence),
        "prev_chain_hash": prev,
        "sha256": sha256,
        "start": start_exact,
        "end": end_exact,
        "size": str(size),
    }
    return chain_link(CHAIN_VERSION, (values[name] for name in CHAIN_FIELDS))
