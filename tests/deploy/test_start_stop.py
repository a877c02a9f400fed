"""`deploy/bootstrap.sh start` always stops on Ctrl-C, within a bounded time, and says what it
had to kill: Django-Q's cluster waits for every worker to finish its task before it stops
(reproduced with a task that sleeps), deaf to a second SIGTERM meanwhile."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_for
from tests.recordings.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
ROOT = Path(__file__).resolve().parents[2]
STOP_SECONDS = 8


def copy_checkout(dest: Path) -> Path:
    """`start` writes the checkout's .env: run it from a copy of the tracked files."""
    names = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, names):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def processes_in(folder: Path) -> list[int]:
    """Processes whose working directory is the copy: every process `start` ran."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "cwd")) == folder:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_ctrl_c_stops_start_within_a_bound_while_a_task_runs(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CRIMEBOX_") and k != "DJANGO_SETTINGS_MODULE"  # pytest's
    }
    env.update(
        CRIMEBOX_DATA_DIR=str(tmp_path / "data"),
        CRIMEBOX_BIND=f"127.0.0.1:{free_port()}",
        CRIMEBOX_VENV=str(Path(sys.prefix)),
        CRIMEBOX_STOP_SECONDS=str(STOP_SECONDS),
        CRIMEBOX_Q_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "start.log"
    with log.open("w") as out:
        start = subprocess.Popen(
            ["bash", str(checkout / "deploy" / "bootstrap.sh"), "start"],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, as a terminal's foreground job
            # A shell that finds SIGINT ignored cannot trap it: give it a terminal's default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        wait_for(lambda: "running." in log.read_text(), timeout=180, what="the cluster")
        # A worker busy with a long task, as a verification or an export is.
        running = tmp_path / "task-running"
        task = f"async_task('subprocess.run', ['sh', '-c', 'touch {running}; sleep 600'])"
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c"]
            + [f"from django_q.tasks import async_task; {task}"],
            cwd=checkout,
            env=env,
            check=True,
            capture_output=True,
        )
        wait_for(running.exists, timeout=30, what="the task running")
        os.killpg(start.pid, signal.SIGINT)  # Ctrl-C
        try:
            code = start.wait(STOP_SECONDS + 30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"start still running after Ctrl-C:\n{log.read_text()[-3000:]}")
        text = log.read_text()
        assert code != 0
        assert f"cluster did not stop within {STOP_SECONDS} s: killed" in text, text[-3000:]
        assert "manage.py qcluster" in text.split("cluster did not stop", 1)[1]  # what it killed
        for name in ("web", "recorder", "live"):
            assert f"{name} did not stop" not in text  # they stopped on their own
        wait_for(lambda: not processes_in(checkout), timeout=10, what="no process left")
    finally:
        for pid in processes_in(checkout):
            os.kill(pid, signal.SIGKILL)
