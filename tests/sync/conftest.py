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
    remote.create_collections(ferretdb.uri, "rtcc")
    return ferretdb
