"""Files the box creates are 0640/0750 or tighter; a configured but absent data disk stops it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(args, env_extra, umask=0o022):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")}
    env.update(env_extra, DJANGO_SETTINGS_MODULE="crimebox.settings", CRIMEBOX_ENV_FILE=os.devnull)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(umask),  # a login shell's usual umask
        timeout=120,
    )


def test_database_keys_and_folders_are_not_readable_by_other_users(tmp_path):
    data = tmp_path / "data"
    env = {"CRIMEBOX_DATA_DIR": str(data)}
    for args in (
        ["migrate", "-v0"],
        ["init_box", "--no-test-pattern"],
        ["collectstatic", "--noinput", "-v0"],
    ):
        result = manage(args, env)
        assert result.returncode == 0, result.stderr
    paths = [data, *data.rglob("*")]
    names = {p.name for p in paths}
    assert {"crimebox.sqlite3", "secret_key", "recordings", "exports", "keys", "static"} <= names
    for path in paths:
        mode = path.stat().st_mode & 0o777
        assert mode & 0o007 == 0, f"{path} is {mode:o}"
        assert mode & 0o020 == 0, f"{path} is group-writable ({mode:o})"
    for key in (data / "keys").iterdir():
        assert key.stat().st_mode & 0o077 == 0, key


def test_recorder_refuses_when_the_data_disk_is_not_mounted(tmp_path):
    mount = tmp_path / "ssd"  # a plain directory: nothing is mounted on it
    mount.mkdir()
    env = {"CRIMEBOX_DATA_DIR": str(mount), "CRIMEBOX_DATA_MOUNT": str(mount)}
    result = manage(["record"], env)
    assert result.returncode != 0
    assert "crimebox.E010" in result.stderr and "refusing to record" in result.stderr
    assert list(mount.iterdir()) == []  # nothing written to the root filesystem


def test_a_mounted_data_disk_passes(tmp_path):
    # / is always a mount point.
    env = {"CRIMEBOX_DATA_DIR": str(tmp_path / "data"), "CRIMEBOX_DATA_MOUNT": "/"}
    result = manage(["check"], env)
    assert result.returncode == 0, result.stderr
