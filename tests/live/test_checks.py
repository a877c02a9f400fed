"""Live view's system checks and where its RAM directory is."""

from pathlib import Path

from live import state
from live.checks import check_live_settings

MOUNTS = """/dev/root / ext4 rw 0 0
tmpfs /run tmpfs rw 0 0
tmpfs /dev/shm tmpfs rw 0 0
/dev/sda1 /var/lib/crimebox ext4 rw 0 0
"""


def ids(settings) -> list[str]:
    return [m.id for m in check_live_settings()]


def test_filesystem_type_is_the_longest_mount_point():
    assert state.filesystem_type(Path("/run/crimebox/live"), MOUNTS) == "tmpfs"
    assert state.filesystem_type(Path("/var/lib/crimebox/x"), MOUNTS) == "ext4"
    assert state.filesystem_type(Path("/home/pi"), MOUNTS) == "ext4"
    assert state.filesystem_type(Path("/runaway"), MOUNTS) == "ext4"  # not under /run


def test_live_dir_on_disk_is_a_warning(settings, tmp_path, monkeypatch):
    settings.LIVE_DIR = str(tmp_path)
    monkeypatch.setattr("live.checks.in_ram", lambda path: False)
    assert ids(settings) == ["live.W001"]
    monkeypatch.setattr("live.checks.in_ram", lambda path: True)
    assert ids(settings) == []


def test_default_live_dir_is_ram(settings, monkeypatch):
    settings.LIVE_DIR = ""
    monkeypatch.setattr(state, "in_ram", lambda path: False)  # /run on disk (a container)
    assert state.live_dir() == state.SHM_DIR


def test_nonsense_limits_are_errors(settings, monkeypatch):
    monkeypatch.setattr("live.checks.in_ram", lambda path: True)
    settings.LIVE_MAX_CAMERAS = 0
    settings.LIVE_IDLE_SECONDS = 1
    assert ids(settings) == ["live.E001", "live.E002"]
