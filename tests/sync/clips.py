"""Builders for the clip-request tests: the console's key, its signed requests, footage."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from crimebox import retrieval as proto
from crimebox.keys import SigningKey, load_or_create

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def make_request(key: SigningKey, **fields) -> dict:
    values = {
        "request": proto.new_request_id(),
        "box": "test-box",
        "camera": "North",
        "start": T0 + timedelta(seconds=1),
        "end": T0 + timedelta(seconds=10),
        "case_number": "26-004512",
        "reason": "hit and run on Main St",
        "user": "alice",
        "priority": 0,
        "created_at": datetime.now(UTC),
    }
    return proto.request_doc(key, **(values | fields))


def other_key(tmp_path: Path) -> SigningKey:
    return load_or_create(tmp_path / "not_the_console.pem")
