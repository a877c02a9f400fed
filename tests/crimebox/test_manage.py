"""manage.py from any terminal: a Python without Django runs it again with the checkout's venv."""

import os
import subprocess
import sys
from pathlib import Path

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"


def run(tmp_path, **env):
    # -S: no site-packages, so this Python has no Django, as a new terminal's python3 does not.
    return subprocess.run(
        [sys.executable, "-S", str(MANAGE), "help", "check"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_runs_with_the_venv_when_started_without_django(tmp_path):
    result = run(tmp_path, CRIMEBOX_VENV=sys.prefix)
    assert result.returncode == 0, result.stderr
    assert "usage: manage.py check" in result.stdout


def test_says_what_to_do_without_a_venv(tmp_path):
    result = run(tmp_path, CRIMEBOX_VENV=str(tmp_path / "none"))
    assert result.returncode != 0
    assert "deploy/bootstrap.sh start" in result.stderr
