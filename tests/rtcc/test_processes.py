"""The ingest as the console runs it: `manage.py rtcc_ingest` with rtcc.settings, its own
database. Killed at any point, nothing is lost or counted twice; two never run at once; SIGTERM
stops it cleanly."""

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .conftest import LedgerBox
from .test_settings import ROOT, console_env


def manage(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(env: dict) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "rtcc_ingest"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def children(pid: int) -> set[int]:
    """The processes `pid` started (the verification worker, multiprocessing's tracker)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def outlive(pids: set[int], seconds: float = 10) -> set[int]:
    """Those of `pids` still running after `seconds` (zombies of a dead parent are reaped)."""
    deadline = time.monotonic() + seconds
    while True:
        alive = {p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return False


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db, timeout=20) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def console(tmp_path: Path, ledger, uri: str) -> dict:
    env = console_env(tmp_path / "console")
    env.update(
        CRIMEBOX_RTCC_URI=uri,
        CRIMEBOX_RTCC_DB=ledger.name,
        CRIMEBOX_RTCC_POLL_SECONDS="0.2",
        CRIMEBOX_RTCC_BATCH="50",
    )
    assert manage(env, "migrate", "--noinput").returncode == 0
    return env


def test_killed_at_any_point_nothing_is_lost_or_counted_twice(tmp_path, rtcc_ledger, settings):
    env = console(tmp_path, rtcc_ledger, settings.RTCC_URI)
    db = tmp_path / "console" / "rtcc.sqlite3"
    box = LedgerBox(rtcc_ledger)
    box.register()
    assert manage(env, "rtcc_ingest", "--once").returncode == 0
    enrolled = manage(env, "rtcc_enrol", "box-1", box.key.fingerprint)
    assert enrolled.returncode == 0, enrolled.stderr
    box.camera()
    rtcc_ledger.segments.insert_many([box.segment_doc() for _ in range(400)])
    for _ in range(3):  # kill -9 three times while it works
        proc = start(env)
        deadline = time.monotonic() + 60
        before = count(db, "rtcc_segmentrecord")
        while count(db, "rtcc_segmentrecord") == before and time.monotonic() < deadline:
            time.sleep(0.05)
        started = children(proc.pid)
        assert started  # the verification worker
        proc.kill()
        proc.wait(10)
        assert not outlive(started)  # the parent-death signal: no orphan worker
    while True:
        done = manage(env, "rtcc_ingest", "--once")
        assert done.returncode == 0, done.stderr
        if done.stdout.strip().endswith(" 0 document(s)"):
            break
    assert count(db, "rtcc_segmentrecord") == 400
    assert count(db, "rtcc_integrityproblem") == 0
    verified = manage(env, "rtcc_verify", "--json")
    assert verified.returncode == 0, verified.stdout
    fleet = json.loads(manage(env, "rtcc_boxes", "--json").stdout)
    assert fleet["boxes"][0]["enrolment"] == "enrolled"


def test_two_ingests_never_run_at_once_and_sigterm_stops_cleanly(tmp_path, rtcc_ledger, settings):
    env = console(tmp_path, rtcc_ledger, settings.RTCC_URI)
    first = start(env)
    lock = tmp_path / "console" / "rtcc-ingest.lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = manage(env, "rtcc_ingest", "--once")
    assert second.returncode == 1
    assert f"another ingest is running on {tmp_path / 'console'} (pid {first.pid})" in second.stderr
    while not (started := children(first.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the verification worker starts with the first pass
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=30)
    assert first.returncode == 0, out
    assert "ingest stopped" in out
    assert started and not outlive(started)
