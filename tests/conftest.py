import os
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def own_data_dirs(settings, tmp_path):
    """Each test gets its own data directory (thumbnails, heartbeat), recordings, exports and
    keys: camera ids are reused between tests, and a folder left by another test would be
    "unknown files" to recover. (The database stays where the settings put it.)"""
    settings.DATA_DIR = tmp_path / "data"
    for name in ("RECORDINGS_DIR", "EXPORTS_DIR", "KEYS_DIR"):
        path = tmp_path / "data" / name.split("_")[0].lower()
        path.mkdir(parents=True)
        setattr(settings, name, path)


@pytest.fixture
def box_env(transactional_db):
    """Environment for a real `manage.py` subprocess (recorder, cluster) sharing the test DB.

    Needs committed rows, hence transactional_db: use it with tests that start processes.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")}
    env.update(
        DJANGO_SETTINGS_MODULE="crimebox.settings",
        CRIMEBOX_ENV_FILE=os.devnull,
        CRIMEBOX_DATA_DIR=str(settings.DATA_DIR),
        CRIMEBOX_RECORDINGS_DIR=str(settings.RECORDINGS_DIR),
        CRIMEBOX_EXPORTS_DIR=str(settings.EXPORTS_DIR),
        CRIMEBOX_KEYS_DIR=str(settings.KEYS_DIR),
        CRIMEBOX_DATABASE=str(settings.DATABASES["default"]["NAME"]),
        CRIMEBOX_SECRET_KEY=settings.SECRET_KEY,
        CRIMEBOX_BOX_ID=settings.BOX_ID,
        CRIMEBOX_SEGMENT_SECONDS=str(settings.SEGMENT_SECONDS),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def manage_argv():
    return [sys.executable, str(ROOT / "manage.py")]


# The fast tier is `pytest -m "not slow"`: no root, no test peers, no browser, no subprocess
# of the box. A test that uses one of these fixtures is slow whatever its own marks say.
SLOW_FIXTURES = {
    "box_env",  # recorder/cluster subprocesses
    "rtsp_server",  # GStreamer RTSP camera
    "onvif_camera",  # ipycam in a network namespace (root)
    "slow_camera",  # the same under libfaketime (tests/cameras/test_clock.py)
    "ferretdb",  # FerretDB peer
    "rtcc_ferretdb",
    "rtcc_ledger",
    "rtcc_postgresql",  # a PostgreSQL cluster (tests/peers/postgresql.py)
    "mongo",
    "tiny_disk",  # a tmpfs mount (root)
    "browser",  # headless Chromium
    "browsers",
    "live_server",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
