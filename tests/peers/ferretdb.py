"""FerretDB (the datacenter's MongoDB, SQLite backend) on a free loopback port.

Built and cached by tests/peers/install.sh. `FerretDB.stop()` / `start()` take the datacenter
down and bring it back on the same port and data directory (the outage tests).
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

CACHE = Path(os.environ.get("CRIMEBOX_PEERS_CACHE", "/var/cache/crimebox-peers"))


def binary() -> Path | None:
    found = CACHE / "ferretdb"
    if found.exists():
        return found
    which = shutil.which("ferretdb")
    return Path(which) if which else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FerretDB:
    def __init__(self, directory: Path, port: int | None = None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def argv(self) -> list[str]:
        return [
            str(binary()),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.dir}/",
            f"--listen-addr=127.0.0.1:{self.port}",
            f"--state-dir={self.dir}",
            "--telemetry=disable",
            "--debug-addr=-",
            "--log-level=warn",
        ]

    def start(self, deadline: float = 20.0) -> "FerretDB":
        log = open(self.dir / "ferretdb.log", "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ferretdb exited: {(self.dir / 'ferretdb.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("ferretdb did not listen in time")

    def stop(self, kill: bool = True) -> None:
        """Killed unless told: a datacenter that drops is what the outage tests mean, its SQLite
        keeps every committed write, and a graceful stop waits ~3 s for the clients the code
        under test keeps open (one per URI, for the life of the process)."""
        if self.proc is None:
            return
        self.proc.kill() if kill else self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
