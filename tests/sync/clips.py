"""Builders for the clip-request tests: the console's key, its signed requests, footage."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crimebox import retrieval as proto
from crimebox.keys import SigningKey, load_or_create

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.fixture
def console(tmp_path, settings) -> SigningKey:
    """The RTCC console's key, trusted by the box (CRIMEBOX_RTCC_CONSOLE_KEY_FILE)."""
    key = load_or_create(tmp_path / "console_signing_key.pem")
    pem = tmp_path / "console.pub.pem"
    pem.write_bytes(key.public_pem)
    settings.RTCC_CONSOLE_KEY_FILE = str(pem)
    settings.RTCC_UPLOAD_KBPS = 0
    settings.RTCC_CHUNK_KB = 16
    return key


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
