"""What every long-running command (`record`, `live`, `rtcc_ingest`) needs around its loop:
one process per directory (an flock holding the owner's pid), a database that is migrated,
and SIGTERM/SIGINT turned into a flag the loop reads between ticks."""

import fcntl
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import IO

from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def hold_lock(path: Path, what: str) -> IO[str]:
    """Hold `path`'s flock until the process exits (keep the returned handle): a second
    `what` on the same directory is refused, naming the pid that holds it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
    except OSError as e:
        raise CommandError(f"cannot use {path.parent}: {e}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        handle.close()
        raise CommandError(f"another {what} is running on {path.parent} (pid {owner})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def hold_database_lock(key: int, what: str) -> None:
    """On PostgreSQL, also hold a session advisory lock numbered `key` for as long as this
    process keeps its connection: a datacenter may run the console on several hosts sharing
    one database, each with its own data directory, where `hold_lock`'s flock cannot see the
    other. SQLite needs nothing more: its database is a file in the data directory."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        row = cursor.fetchone()
    if not row or not row[0]:
        name = connection.settings_dict["NAME"]
        raise CommandError(f"another {what} is running against the database {name}")


def require_migrated() -> None:
    """After an update, before the web unit's ExecStartPre migrated: say so, and let systemd
    start us again, rather than fail on a missing column mid-loop."""
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CommandError("the database is not migrated: run `./manage.py migrate`")


def stop_on_signals() -> Callable[[], bool]:
    """SIGTERM and SIGINT ask the loop to stop; the returned function says whether they did."""
    asked: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        asked.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return lambda: bool(asked)
