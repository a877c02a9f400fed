import pytest

from tests.cameras.conftest import onvif_camera, silent_port  # noqa: F401  (shared fixtures)
from tests.recordings.conftest import rtsp_server  # noqa: F401


@pytest.fixture(autouse=True)
def live_dir(settings, tmp_path):
    """Each test its own live directory (the real default is RAM: /run or /dev/shm)."""
    settings.LIVE_DIR = str(tmp_path / "live")
    return tmp_path / "live"
