"""docs/sync.md's signature check, run as written, against what the box sent to FerretDB."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit import log
from audit.models import AuditEvent
from recordings import gaps
from sync import heartbeat, remote, sender
from sync.outbox import signing_key
from tests.factories import make_camera, make_segment

DOC = Path(__file__).resolve().parents[2] / "docs" / "sync.md"
T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def snippet() -> dict:
    text = DOC.read_text()
    code = re.search(r"<!-- verify-snippet -->\n```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102  (our own documentation)
    return namespace


@pytest.mark.django_db
def test_the_documented_check_accepts_every_document_and_refuses_an_altered_one(rtcc, rtcc_db):
    check = snippet()["check_signature"]
    fingerprint = signing_key().fingerprint
    camera = make_camera("North", latitude="41.878113")
    make_segment(camera, T0)
    gaps.open_gap(camera, "unreachable", "refused", T0)
    log.record(AuditEvent.Action.VIEW, username="zoë", camera=camera, detail={"x": [1, 2]})
    heartbeat.beat()
    assert sender.send_pending().ok
    names = [n for n in remote.INDEXES if rtcc_db[n].count_documents({})]
    assert {"boxes", "segments", "gaps", "audit", "heartbeats"} <= set(names)
    for name in names:
        for doc in rtcc_db[name].find():
            assert check(doc, rtcc_db, fingerprint), doc["_id"]
    doc = rtcc_db.segments.find_one()
    assert not check({**doc, "size": doc["size"] + 1}, rtcc_db, fingerprint)
    assert not check({**doc, "start": datetime(2026, 1, 1, tzinfo=UTC)}, rtcc_db, fingerprint)


@pytest.mark.django_db
def test_the_documented_check_trusts_only_the_enrolled_key(rtcc, rtcc_db):
    """The documented check trusts only the enrolled key: a second `boxes` document with another
    key, inserted with the box's own login, does not make documents signed by it pass."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crimebox.keys import SigningKey
    from crimebox.signature import sign
    from sync.documents import base, box_doc

    check = snippet()["check_signature"]
    make_segment(make_camera("North"), T0)
    assert sender.send_pending().ok
    thief = SigningKey(Ed25519PrivateKey.generate())
    rtcc_db.boxes.insert_one(sign(box_doc(thief, first_seen=T0), thief))
    forged = sign(base("segment", "1:99", sha256="f" * 64), thief)
    assert not check(forged, rtcc_db, signing_key().fingerprint)
    # A planted `boxes` document naming the box's real fingerprint with the thief's key.
    lying = {**box_doc(thief, first_seen=T0), "_id": "test-box:box:lie"}
    rtcc_db.boxes.insert_one({**lying, "fingerprint": signing_key().fingerprint})
    lie = sign(base("segment", "1:98", sha256="f" * 64), thief)
    lie["sig"]["key"] = signing_key().fingerprint
    assert not check(lie, rtcc_db, signing_key().fingerprint)
