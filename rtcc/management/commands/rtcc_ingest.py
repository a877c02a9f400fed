import fcntl
import logging
import os
import signal
import time
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from rtcc.ingest import tick

logger = logging.getLogger("rtcc.ingest")


class Command(BaseCommand):
    help = (
        "Read the boxes' new ledger documents into the console's read models, verify them and "
        "raise or resolve alerts; every CRIMEBOX_RTCC_POLL_SECONDS until SIGTERM (--once: one "
        "pass, exit 1 when the ledger could not be read)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError("the database is not migrated: run `python manage.py migrate`")
        self.lock = hold_ingest_lock()  # held until the process exits
        if options["once"]:
            result = tick()
            self.stdout.write(f"{result.boxes} box(es), {result.documents} document(s)")
            if not result.ok:
                raise CommandError(result.error)
            return
        self.loop()

    def loop(self) -> None:
        stop = False

        def on_signal(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        logger.info("ingest started (pid %d)", os.getpid())
        failures = 0
        while not stop:
            result = tick()
            failures = 0 if result.ok else failures + 1
            # The ledger down: back off (doubling, at most a minute), never a crash loop.
            wait = min(60.0, settings.RTCC_POLL_SECONDS * 2 ** min(failures, 5))
            deadline = time.monotonic() + wait
            while not stop and time.monotonic() < deadline:
                time.sleep(min(0.2, wait))
        logger.info("ingest stopped")


def hold_ingest_lock() -> IO[str]:
    """One ingest per console database: a second would apply the same documents twice."""
    path = Path(settings.DATA_DIR) / "rtcc-ingest.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        handle.close()
        raise CommandError(
            f"another ingest is running on {settings.DATA_DIR} (pid {owner})"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
