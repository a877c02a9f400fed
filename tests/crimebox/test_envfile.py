"""What `bootstrap.sh start` was given is what every later manage.py on the checkout uses."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crimebox import envfile

ROOT = Path(__file__).resolve().parents[2]


def test_given_settings_are_written_with_absolute_paths(tmp_path):
    target = tmp_path / ".env"
    target.write_text("CRIMEBOX_TIME_ZONE=America/Chicago\nCRIMEBOX_BOX_ID=old\n")
    environ = {
        "CRIMEBOX_DATA_DIR": "boxdata",
        "CRIMEBOX_BOX_ID": "pole-17",
        "CRIMEBOX_ENV_FILE": "/elsewhere",
        "HOME": "/root",
    }
    envfile.write(target, environ, base=tmp_path / "where-start-ran")
    assert target.read_text().splitlines()[1:] == [
        "CRIMEBOX_BOX_ID=pole-17",
        f"CRIMEBOX_DATA_DIR={tmp_path / 'where-start-ran' / 'boxdata'}",
        "CRIMEBOX_TIME_ZONE=America/Chicago",
    ]
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("value", ["10.0.0.5:8000 # ZeroTier", "a\nCRIMEBOX_DEBUG=1"])
def test_comments_and_newlines_are_refused(tmp_path, value):
    with pytest.raises(envfile.EnvFileError):
        envfile.write(tmp_path / ".env", {"CRIMEBOX_BIND": value}, base=tmp_path)
    assert not (tmp_path / ".env").exists()


def test_a_later_manage_py_from_elsewhere_uses_the_data_dir_start_had(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")}
    env["DJANGO_SETTINGS_MODULE"] = "crimebox.settings"
    start_env = {**env, "CRIMEBOX_DATA_DIR": "box-data"}
    dot_env = tmp_path / "checkout.env"
    subprocess.run(
        [sys.executable, "-m", "crimebox.envfile", str(dot_env), str(tmp_path)],
        cwd=ROOT,
        env={**start_env, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "second-terminal"
    elsewhere.mkdir()
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "shell",
            "-v0",
            "-c",
            "from django.conf import settings; print(settings.DATA_DIR)",
        ],
        cwd=elsewhere,
        env={**env, "CRIMEBOX_ENV_FILE": str(dot_env)},  # the checkout's .env, in a test
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == str(tmp_path / "box-data")
    assert list(elsewhere.iterdir()) == []  # no stray ./data


def test_an_inline_comment_already_in_the_file_is_refused(tmp_path):
    """systemd keeps `# ...` as part of the value: the web unit would restart-loop."""
    target = tmp_path / "crimebox.env"
    target.write_text("CRIMEBOX_BIND=10.147.17.5:8000          # the ZeroTier address\n")
    with pytest.raises(envfile.EnvFileError, match="CRIMEBOX_BIND"):
        envfile.write(target, {}, base=tmp_path)
