"""Where a box's document may stand at the datacenter: its `_id`, or an alternate `<_id>~k`.

When another login took a document's `_id` first (a squatter), the box inserts its own under
the first free alternate (docs/sync.md). The box (sync/duplicates.py) writes there and every
reader (sync/verify.py, the console) looks there too, keeping only what the enrolled key signed.
"""

ALTERNATES = 3


def alternate_id(doc_id: str, k: int) -> str:
    return f"{doc_id}~{k}"


def candidate_ids(doc_id: str) -> list[str]:
    """The `_id` and its alternates, in the order the box tries them."""
    return [doc_id, *(alternate_id(doc_id, k) for k in range(1, ALTERNATES + 1))]


def base_id(doc_id: str) -> str:
    """The fact's own `_id` of a document stored under an alternate one."""
    head, sep, tail = doc_id.rpartition("~")
    return head if sep and tail.isdigit() and 1 <= int(tail) <= ALTERNATES else doc_id
