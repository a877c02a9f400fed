import pytest

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
