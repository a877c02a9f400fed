"""A throwaway PostgreSQL cluster (Debian's `postgresql` package, bootstrap.sh's TEST_APT).

initdb into a fresh directory, a server listening only on a unix socket in that directory (no
TCP: nothing shared with another cluster or another test run), trust authentication, fsync off
(a test cluster need not survive a power cut). PostgreSQL refuses to run as root and CI runs
as root, so there the cluster's files belong to `nobody` and its programs run as `nobody`.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.peers.ferretdb import free_port

USER = "crimebox"  # the cluster's superuser, the role the console connects as


def bin_dir() -> Path | None:
    """The newest Debian PostgreSQL server's programs, /usr/lib/postgresql/<version>/bin."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    found.sort(key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)])
    return found[-1] if found else None


class PostgreSQL:
    def __init__(self, programs: Path):
        self.programs = programs
        # Not pytest's tmp_path: its parents are root's 0700 directories that `nobody` cannot
        # enter, and a unix socket's path must stay under ~100 characters.
        self.dir = Path(tempfile.mkdtemp(prefix="crimebox-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()  # names the socket file; no TCP listener

    def as_owner(self, *argv: str) -> list[str]:
        if os.geteuid() != 0:
            return list(argv)
        return ["runuser", "-u", "nobody", "--", *argv]

    def run(self, *argv: str) -> None:
        done = subprocess.run(
            self.as_owner(*argv), cwd=self.dir, capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> "PostgreSQL":
        if os.geteuid() == 0:
            shutil.chown(self.dir, "nobody")
        self.run(
            str(self.programs / "initdb"),
            f"--pgdata={self.data}",
            f"--username={USER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        options = f"-k {self.dir} -p {self.port} -c listen_addresses='' -c fsync=off"
        self.run(
            str(self.programs / "pg_ctl"),
            "start",
            "--wait",
            "--timeout=30",
            f"--pgdata={self.data}",
            f"--log={self.dir / 'postgresql.log'}",
            f"--options={options}",
        )
        return self

    def create_database(self, name: str) -> str:
        """A new empty database; its URL in the form CRIMEBOX_DATABASE_URL takes."""
        self.run(
            str(self.programs / "createdb"),
            f"--host={self.dir}",
            f"--port={self.port}",
            f"--username={USER}",
            name,
        )
        # django-environ leaves a %2F-quoted socket directory in the host quoted: the socket
        # directory and port go in the query string, which reaches psycopg as they are.
        return f"postgres://{USER}@/{name}?host={self.dir}&port={self.port}"

    def stop(self) -> None:
        try:
            self.run(
                str(self.programs / "pg_ctl"), "stop", "--mode=immediate", f"--pgdata={self.data}"
            )
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
