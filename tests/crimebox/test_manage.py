"""manage.py from any terminal: a Python without Django runs it again with the checkout's venv."""

import os
import re
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


ROOT = MANAGE.parent
# `python manage.py …` fails in a new terminal (no Django on that Python, and Debian has no
# `python` at all); a bare `manage.py …` is not on PATH. `./manage.py …` (or a path to it) works:
# it is executable, starts with python3, and runs itself again with the checkout's venv.
BROKEN = re.compile(r"\bpython3? manage\.py|(?:^|`|\| )manage\.py [a-z]", re.MULTILINE)


def test_manage_py_runs_by_its_own_name():
    assert os.access(MANAGE, os.X_OK)
    assert MANAGE.read_text().startswith("#!/usr/bin/env python3\n")


def test_every_documented_command_runs_in_a_new_terminal():
    # architecture.md's table names each process by its command line; it is a map, not steps.
    pages = [p for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "architecture.md"]
    docs = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *pages]
    broken = [
        f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0).strip()}"
        for path in docs
        for text in [path.read_text()]
        for m in BROKEN.finditer(text)
    ]
    assert broken == [], "write ./manage.py …"
