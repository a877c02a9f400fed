"""The Django-Q cluster stops cleanly when systemd stops its unit.

With KillMode=mixed systemd sends SIGTERM to the cluster alone, which stops its workers; signalled
all at once (the default, control-group) the workers die under it and it hangs until SIGKILL.
"""

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers import wait_for

pytestmark = pytest.mark.slow
UNIT = Path(__file__).resolve().parents[2] / "deploy" / "crimebox-cluster.service"


def unit_setting(name: str, default: str) -> str:
    found = re.search(rf"^{name}=(.*)$", UNIT.read_text(), re.MULTILINE)
    return found[1].strip() if found else default


def alive(pgid: int) -> list[str]:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()


def test_systemd_stopping_the_cluster_unit_stops_it_cleanly(box_env, manage_argv, tmp_path):
    kill_mode = unit_setting("KillMode", "control-group")  # systemd's default
    timeout = float(unit_setting("TimeoutStopSec", "90").removesuffix("s"))
    log = tmp_path / "cluster.log"
    with log.open("w") as out:
        cluster = subprocess.Popen(
            [*manage_argv, "qcluster"],
            env={**box_env, "CRIMEBOX_Q_LOG_LEVEL": "INFO"},  # its "running" and "has stopped"
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as the unit's cgroup
        )
    try:
        wait_for(lambda: "running" in log.read_text(), timeout=60, what="the cluster running")
        wait_for(lambda: len(alive(cluster.pid)) > 2, timeout=30, what="its worker processes")
        # What systemd sends on stop: SIGTERM to the main process only with KillMode=mixed,
        # to every process of the unit with the default.
        if kill_mode == "mixed":
            cluster.send_signal(signal.SIGTERM)
        else:
            os.killpg(cluster.pid, signal.SIGTERM)
        try:
            code = cluster.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the cluster ignored SIGTERM for {timeout:g} s (systemd would SIGKILL)")
        assert code == 0, log.read_text()[-2000:]
        assert "has stopped" in log.read_text()
        wait_for(lambda: not alive(cluster.pid), timeout=10, what="no process left")
    finally:
        if alive(cluster.pid):
            os.killpg(cluster.pid, signal.SIGKILL)
