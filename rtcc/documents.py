"""What a box's document must look like before the console uses it (docs/sync.md, schema 2).

`malformed()` names the first thing wrong with a document read from the ledger (a field of the
wrong type, a missing field, an unknown schema or kind, a string too long, a document under
another box's name) or returns "" when the console can use it. The ledger is written by boxes
over a network: nothing in it is trusted to be well-formed.
"""

import re
from datetime import datetime
from typing import Any

SCHEMA = 2

# collection -> the kinds of document it holds
KINDS = {
    "boxes": {"box"},
    "cameras": {"camera"},
    "segments": {"segment"},
    "segment_events": {"segment_event"},
    "gaps": {"gap_opened", "gap_closed"},
    "audit": {"audit"},
    "exports": {"export"},
    "integrity_checks": {"integrity_check"},
    "prefix_checks": {"prefix_check"},  # exported bytes of an open segment, checked at close
    "heartbeats": {"heartbeat"},
    "dropped": {"dropped"},
    "retrievals": {"retrieval"},  # answers to clip requests (crimebox/retrieval.py)
    "camera_clocks": {"camera_clock"},  # a camera's clock measured (cameras/clock.py)
}

HEX64 = re.compile(r"[0-9a-f]{64}")


class Str:
    def __init__(self, max_length: int, optional: bool = False, pattern: re.Pattern | None = None):
        self.max_length, self.optional, self.pattern = max_length, optional, pattern

    def problem(self, value: Any) -> str:
        if value is None and self.optional:
            return ""
        if not isinstance(value, str):
            return "is not text"
        if len(value) > self.max_length:
            return f"is longer than {self.max_length} characters"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return "is not 64 hex digits"
        return ""


class Of:
    def __init__(self, kind: type, optional: bool = False, signed: bool = False):
        self.kind, self.optional, self.signed = kind, optional, signed

    def problem(self, value: Any) -> str:
        if value is None and self.optional:
            return ""
        if isinstance(value, bool) and self.kind is not bool:
            return f"is not {self.kind.__name__}"
        if not isinstance(value, self.kind):
            return f"is not {self.kind.__name__}"
        lowest = -(2**63) if self.signed else 0
        if isinstance(value, int) and not isinstance(value, bool) and not lowest <= value < 2**63:
            return "is out of range"
        return ""


INT, DATE, BOOL = Of(int), Of(datetime), Of(bool)
HASH = Str(64, pattern=HEX64)
NAME = Str(100)

COMMON: dict[str, Str | Of] = {
    "_id": Str(300),
    "box": Str(100),
    "schema": INT,
    "kind": Str(30),
    "n": INT,
}
GAP: dict[str, Str | Of] = {
    "gap": INT,
    "camera_id": INT,
    "camera": NAME,
    "start": DATE,
    "end": Of(datetime, optional=True),
    "cause": Str(30),
    "cause_text": Str(200),
    "detail": Str(2000),
}
FIELDS: dict[str, dict[str, Str | Of]] = {
    "box": {"fingerprint": HASH, "public_key_pem": Str(2000), "software": NAME},
    "segment": {
        "camera_id": INT,
        "camera": NAME,
        "sequence": INT,
        "start": DATE,
        "end": DATE,
        "start_exact": Str(40),
        "end_exact": Str(40),
        "size": INT,
        "sha256": HASH,
        "prev_chain_hash": HASH,
        "chain_hash": HASH,
        "status": Str(20),
        "on_hold": BOOL,
    },
    "segment_event": {"camera_id": INT, "sequence": INT, "event": Str(30), "at": DATE},
    "gap_opened": GAP,
    "gap_closed": {**GAP, "end": DATE},
    "camera": {
        "camera_id": INT,
        "name": NAME,
        "revision": Str(16),
        "location": Str(200, optional=True),
        "latitude": Str(20, optional=True),
        "longitude": Str(20, optional=True),
        "facing_degrees": Of(int, optional=True),
        "manufacturer": Str(100, optional=True),
        "model": Str(100, optional=True),
        "serial_number": Str(100, optional=True),
        "firmware_version": Str(100, optional=True),
        "is_enabled": BOOL,
    },
    "audit": {"sequence": INT, "at": DATE, "prev_hash": HASH, "hash": HASH},
    "export": {"export": INT},
    "integrity_check": {"check": INT, "ok": BOOL},
    "prefix_check": {
        "export": INT,
        "camera_id": INT,
        "sequence": INT,
        "segment_sha256": HASH,
        "path": Str(300),
        "end_byte": INT,
        "prefix_sha256": HASH,
        "result": Str(20),
    },
    "heartbeat": {
        "sequence": INT,
        "time": DATE,
        "disk": Of(dict),
        "pi": Of(dict, optional=True),
        "clock_synced": Of(bool, optional=True),
        "software": NAME,
        "cameras": Of(list),
        "outbox": Of(dict),
        "load_centi": Of(list, optional=True),
        "zerotier": Of(dict, optional=True),
    },
    "dropped": {"numbers": Of(list), "count": INT, "dropped_kind": Str(30), "at": DATE},
    "retrieval": {"request": Str(100), "state": Str(20), "reason": Str(2000), "at": DATE},
    "camera_clock": {
        "camera_id": INT,
        "measured_at": DATE,
        "camera_time": DATE,
        "offset_ms": Of(int, signed=True),
        "uncertainty_ms": INT,
        "round_trip_ms": INT,
    },
}


def malformed(doc: Any, collection: str, box: str) -> str:
    """The first problem of a document read from `collection` for `box`, or ""."""
    if not isinstance(doc, dict):
        return "not a document"
    for name, spec in COMMON.items():
        if problem := _field(doc, name, spec):
            return problem
    if doc["schema"] != SCHEMA:
        return f"unknown schema {doc['schema']}"
    if doc["kind"] not in KINDS.get(collection, ()):
        return f"unknown kind {doc['kind']!r} in {collection}"
    if doc["box"] != box or not doc["_id"].startswith(f"{box}:{doc['kind']}:"):
        return f"claims box {doc['box']!r} under _id {doc['_id'][:100]!r}"
    sig = doc.get("sig")
    if not (isinstance(sig, dict) and all(isinstance(sig.get(k), str) for k in ("key", "value"))):
        return "no signature"
    for name, spec in FIELDS[doc["kind"]].items():
        if problem := _field(doc, name, spec):
            return problem
    if doc["kind"] == "dropped" and not _ranges(doc["numbers"]):
        return "numbers is not a list of {first, last} ranges"
    return ""


def _field(doc: dict, name: str, spec: Str | Of) -> str:
    if name not in doc and not getattr(spec, "optional", False):
        return f"missing field {name}"
    problem = spec.problem(doc.get(name))
    return f"field {name} {problem}" if problem else ""


def _ranges(value: list) -> bool:
    return len(value) <= 10_000 and all(
        isinstance(r, dict)
        and all(
            isinstance(r.get(k), int) and not isinstance(r.get(k), bool) for k in ("first", "last")
        )
        and 0 < r["first"] <= r["last"]
        for r in value
    )


def number(value: Any) -> int | None:
    """An int field of a nested part (heartbeats): None for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def part(doc: dict, name: str) -> dict:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}
