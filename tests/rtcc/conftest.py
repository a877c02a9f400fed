"""The console's tests run in the suite's one pytest process (tests/settings.py installs the
`rtcc` app beside the box's apps, with the console's own knobs from rtcc/knobs.py), so a test
can make real box facts, send them with the box's real sender and ingest them with the console.
What only rtcc.settings can prove (the console starts alone, loads no box code) is checked by
`manage.py` subprocesses with DJANGO_SETTINGS_MODULE=rtcc.settings (test_settings.py).

`rtcc_ledger`: a FerretDB shared by the session, a fresh database per test.
`rtcc_postgresql`: a throwaway PostgreSQL cluster shared by the session (test_postgresql.py).
`LedgerBox`: builds and signs a box's documents as docs/sync.md specifies them (schema 2).
"""

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymongo
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crimebox.chain import segment_link
from crimebox.hashing import GENESIS
from crimebox.keys import SigningKey
from crimebox.signature import sign
from crimebox.utc import utc_iso
from tests.cameras.conftest import silent_port  # noqa: F401  (a ledger that never answers)
from tests.peers import postgresql
from tests.peers.ferretdb import FerretDB, binary
from tests.recordings.conftest import rtsp_server  # noqa: F401  (a real camera for a real box)

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def rtcc_ferretdb(tmp_path_factory):
    if binary() is None:
        pytest.fail("FerretDB is not installed: run tests/peers/install.sh")
    server = FerretDB(Path(tmp_path_factory.mktemp("rtcc-ferretdb"))).start()
    yield server
    server.stop()


@pytest.fixture
def rtcc_ledger(rtcc_ferretdb, settings):
    """The ledger database of one test, and the console pointed at it."""
    name = f"t{uuid.uuid4().hex[:12]}"
    settings.RTCC_URI, settings.RTCC_URI_FILE, settings.RTCC_DB = rtcc_ferretdb.uri, "", name
    settings.RTCC_TIMEOUT_SECONDS = 3
    client = pymongo.MongoClient(rtcc_ferretdb.uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    yield client[name]
    client.drop_database(name)
    client.close()


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 2 documents: a test's few documents go through the read-ahead and the
    verification worker (rtcc/verifier.py) as a backlog of thousands does."""
    from rtcc import ingest

    monkeypatch.setattr(ingest, "CHUNK", 2)


class LedgerBox:
    """A box as the ledger sees it: its key, its numbered, signed documents."""

    def __init__(self, db, box_id: str = "box-1", key: SigningKey | None = None):
        self.db, self.box_id = db, box_id
        self.key = key or SigningKey(Ed25519PrivateKey.generate())
        self.n = 0
        self.chains: dict[int, tuple[int, str]] = {}

    def doc(self, kind: str, key: str, n: int | None = None, **fields) -> dict:
        if n is None:
            self.n += 1
            n = self.n
        body = {
            "_id": f"{self.box_id}:{kind}:{key}",
            "box": self.box_id,
            "schema": 2,
            "kind": kind,
            "n": n,
            **fields,
        }
        return sign(body, self.key)

    def put(self, collection: str, doc: dict) -> dict:
        self.db[collection].insert_one(doc)
        return doc

    def register(self) -> dict:
        return self.put(
            "boxes",
            self.doc(
                "box",
                self.key.fingerprint,
                fingerprint=self.key.fingerprint,
                public_key_pem=self.key.public_pem.decode(),
                software="crimebox 0.1.0",
                first_seen=T0,
            ),
        )

    def camera(self, camera_id: int = 1, name: str = "North", **extra) -> dict:
        fields = dict(
            camera_id=camera_id,
            name=name,
            revision=f"{camera_id:016x}",
            location="Main St",
            latitude="41.878113",
            longitude="-87.629799",
            facing_degrees=90,
            manufacturer="Acme",
            model="X1",
            serial_number="S1",
            firmware_version="1.0",
            is_enabled=True,
        )
        fields.update(extra)
        return self.put(
            "cameras", self.doc("camera", f"{camera_id}:{fields['revision']}", **fields)
        )

    def segment_doc(self, camera_id: int = 1, start: datetime | None = None, **override) -> dict:
        sequence, prev = self.chains.get(camera_id, (0, GENESIS))
        sequence += 1
        start = start or T0 + timedelta(minutes=15 * (sequence - 1))
        end = start + timedelta(minutes=15)
        sha = f"{camera_id:02x}{sequence:062x}"
        fields = dict(
            camera_id=camera_id,
            camera="North",
            sequence=sequence,
            start=start,
            end=end,
            start_exact=utc_iso(start),
            end_exact=utc_iso(end),
            size=1000 + sequence,
            sha256=sha,
            prev_chain_hash=prev,
            status="complete",
            on_hold=False,
        )
        fields["chain_hash"] = segment_link(
            camera_id=camera_id,
            sequence=sequence,
            prev=prev,
            sha256=sha,
            start_exact=fields["start_exact"],
            end_exact=fields["end_exact"],
            size=fields["size"],
        )
        fields.update(override)
        self.chains[camera_id] = (sequence, fields["chain_hash"])
        return self.doc("segment", f"{camera_id}:{sequence}", **fields)

    def segment(self, camera_id: int = 1, **override) -> dict:
        return self.put("segments", self.segment_doc(camera_id, **override))

    def heartbeat(self, time: datetime | None = None, status: str = "recording", **health) -> dict:
        self.beats = getattr(self, "beats", 0) + 1
        pi = {"cpu_temp_millic": 48000, "under_voltage": False, "throttled": False}
        pi.update({k: health.pop(k) for k in list(health) if k in pi})
        fields = dict(
            sequence=self.beats,
            time=time or T0,
            boot_id="boot",
            disk={"total": 100_000_000_000, "free": health.pop("free", 50_000_000_000)},
            pi=pi,
            clock_synced=health.pop("clock_synced", True),
            software="crimebox 0.1.0",
            cameras=[
                {
                    "camera_id": 1,
                    "name": "North",
                    "enabled": True,
                    "status": status,
                    "last_segment_end": None,
                    "last_error": "",
                }
            ],
            outbox={"pending": 0, "oldest_age_s": health.pop("backlog_age_s", None)},
            load_centi=[50, 40, 30],
            zerotier=None,
        )
        return self.put("heartbeats", self.doc("heartbeat", f"boot:{self.beats}", **fields))


@pytest.fixture(scope="session")
def rtcc_postgresql():
    """A PostgreSQL cluster for the session (tests/peers/postgresql.py). Missing server
    programs fail the test: CI installs them (deploy/bootstrap.sh test), and a test that skips
    itself cannot fail. CRIMEBOX_TEST_NO_POSTGRESQL=1 skips it on purpose, said out loud."""
    if os.environ.get("CRIMEBOX_TEST_NO_POSTGRESQL") == "1":
        pytest.skip("CRIMEBOX_TEST_NO_POSTGRESQL=1: the console on PostgreSQL is not tested")
    programs = postgresql.bin_dir()
    if programs is None:
        pytest.fail(
            "PostgreSQL's server is not installed (/usr/lib/postgresql/<version>/bin): run "
            "deploy/bootstrap.sh test, or apt-get install postgresql, or set "
            "CRIMEBOX_TEST_NO_POSTGRESQL=1 to skip these tests"
        )
    server = postgresql.PostgreSQL(programs).start()
    yield server
    server.stop()
