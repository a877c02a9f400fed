import pytest

from crimebox.keys import load_or_create
from tests.peers.ferretdb import FerretDB, binary


@pytest.fixture
def ferretdb(tmp_path):
    """A running FerretDB on loopback with its own data directory; stopped afterwards."""
    if binary() is None:
        pytest.fail("FerretDB is not installed: run tests/peers/install.sh")
    server = FerretDB(tmp_path / "ferretdb").start()
    yield server
    server.stop()


@pytest.fixture
def rtcc(ferretdb, settings):
    """Replication pointed at the FerretDB datacenter, database `rtcc`, collections created
    with their indexes as an administrator would (docs/sync.md)."""
    from sync import remote

    settings.RTCC_URI = ferretdb.uri
    settings.RTCC_URI_FILE = ""
    settings.RTCC_DB = "rtcc"
    settings.RTCC_TIMEOUT_SECONDS = 3  # a stopped datacenter fails fast
    remote.create_collections(ferretdb.uri, "rtcc")
    return ferretdb


@pytest.fixture
def rtcc_db(rtcc):
    import pymongo

    client = pymongo.MongoClient(rtcc.uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    yield client.rtcc
    client.close()


@pytest.fixture
def console(tmp_path, settings):
    """The RTCC console's key, trusted by the box (CRIMEBOX_RTCC_CONSOLE_KEY_FILE)."""
    key = load_or_create(tmp_path / "console_signing_key.pem")
    pem = tmp_path / "console.pub.pem"
    pem.write_bytes(key.public_pem)
    settings.RTCC_CONSOLE_KEY_FILE = str(pem)
    settings.RTCC_UPLOAD_KBPS = 0
    settings.RTCC_CHUNK_KB = 16
    return key
