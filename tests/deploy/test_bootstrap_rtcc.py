"""`deploy/bootstrap.sh rtcc`: the console (web + ingest) and its local ledger from this
checkout, on its own settings file, data directory and ports; Ctrl-C stops all of it in
bounded time. And the console's systemd units."""

import configparser
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pymongo
import pytest

from tests.helpers import wait_for
from tests.peers.ferretdb import binary, free_port

ROOT = Path(__file__).resolve().parents[2]
UNITS = ["crimebox-rtcc-web", "crimebox-rtcc-ingest", "crimebox-rtcc-retrieve"]


def answers(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read()
    except OSError:
        return None


@pytest.mark.slow
def test_rtcc_runs_console_and_local_ledger_and_ctrl_c_stops_all(tmp_path):
    if binary() is None:
        pytest.skip("FerretDB is not built: tests/peers/install.sh ferretdb")
    web, ledger = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")}
    env.update(
        CRIMEBOX_DATA_DIR=str(tmp_path / "console"),
        CRIMEBOX_RTCC_ENV_FILE=str(tmp_path / "env.rtcc"),
        CRIMEBOX_BIND=f"127.0.0.1:{web}",
        CRIMEBOX_RTCC_LEDGER_ADDR=f"127.0.0.1:{ledger}",
        CRIMEBOX_RTCC_POLL_SECONDS="1",
    )
    log = open(tmp_path / "out.log", "w+b")
    proc = subprocess.Popen(
        [str(ROOT / "deploy" / "bootstrap.sh"), "rtcc"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = wait_for(
            lambda: answers(f"http://127.0.0.1:{web}/health"), timeout=90, what="the console"
        )
        assert b'"ok": true' in health
        out = (tmp_path / "out.log").read_text()
        uri = f"mongodb://127.0.0.1:{ledger}/"
        assert f"    CRIMEBOX_RTCC_URI={uri} deploy/bootstrap.sh start" in out
        assert "password:" in out  # the first administrator's one-time password
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
        assert client.admin.command("ping")["ok"] == 1
        client.close()
        # The ingest passes against the local ledger (its state row says so on /health).
        wait_for(
            lambda: (
                b'"last_error": ""' in (answers(f"http://127.0.0.1:{web}/health") or b"")
                and b'"last_pass_at": null' not in answers(f"http://127.0.0.1:{web}/health")
            ),
            timeout=30,
            what="an ingest pass",
        )
        # The clip jobs' loop runs beside the ingest (nothing else assembles a package).
        running = subprocess.run(
            ["pgrep", "-g", str(proc.pid), "-f", "manage.py rtcc_retrieve"], capture_output=True
        )
        assert running.returncode == 0, "rtcc_retrieve is not running"
        settings_file = (tmp_path / "env.rtcc").read_text()
        assert f"CRIMEBOX_BIND=127.0.0.1:{web}" in settings_file
        assert "CRIMEBOX_RTCC_URI" not in settings_file  # this run's ledger, never persisted
        assert (
            not (ROOT / ".env.rtcc").exists() or "console" not in (ROOT / ".env.rtcc").read_text()
        )
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        proc.wait(timeout=25)
        assert time.monotonic() - started < 20
        wait_for(
            lambda: (
                subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True).returncode != 0
            ),
            timeout=5,
            what="all stopped",
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


def rendered(tmp_path: Path, name: str) -> Path:
    text = (ROOT / "deploy" / f"{name}.service").read_text()
    # The venv running these tests, which need not be the checkout's own .venv.
    text = text.replace("/opt/crimebox/.venv/", f"{sys.prefix}/").replace(
        "/opt/crimebox", str(ROOT)
    )
    path = tmp_path / f"{name}.service"
    path.write_text(text)
    return path


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="apt package systemd")
def test_console_units_pass_systemd_analyze_verify(tmp_path):
    paths = [rendered(tmp_path, u) for u in UNITS]
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, paths)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown" not in result.stderr and "Failed to parse" not in result.stderr, result.stderr


@pytest.mark.parametrize("name", UNITS)
def test_console_units_run_the_console_settings_never_the_box(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "deploy" / f"{name}.service")
    s = parser["Service"]
    text = (ROOT / "deploy" / f"{name}.service").read_text()
    assert "\nEnvironment=DJANGO_SETTINGS_MODULE=rtcc.settings\n" in text
    assert s["EnvironmentFile"] == "/etc/crimebox-rtcc.env"  # not the box's /etc/crimebox.env
    assert s["User"] == "crimebox-rtcc" and s["UMask"] == "0027"
    assert "rtcc" in s["ExecStart"] and "crimebox.wsgi" not in s["ExecStart"]
