import logging
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crimebox import daemon
from rtcc.ingest import tick

logger = logging.getLogger("rtcc.ingest")

# The ingest's PostgreSQL advisory lock number ("rtcc" in ASCII): one per console database.
INGEST_LOCK = 0x72746363


class Command(BaseCommand):
    help = (
        "Read the boxes' new ledger documents into the console's read models, verify them and "
        "raise or resolve alerts; every CRIMEBOX_RTCC_POLL_SECONDS until SIGTERM (--once: one "
        "pass, exit 1 when the ledger could not be read)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        daemon.require_migrated()
        # One ingest per console database: a second would apply the same documents twice.
        self.lock = daemon.hold_lock(Path(settings.DATA_DIR) / "rtcc-ingest.lock", "ingest")
        daemon.hold_database_lock(INGEST_LOCK, "ingest")
        if options["once"]:
            result = tick()
            self.stdout.write(f"{result.boxes} box(es), {result.documents} document(s)")
            if not result.ok:
                raise CommandError(result.error)
            return
        self.loop()

    def loop(self) -> None:
        stopping = daemon.stop_on_signals()
        logger.info("ingest started (pid %d)", os.getpid())
        failures = 0
        while not stopping():
            result = tick()
            failures = 0 if result.ok else failures + 1
            # The ledger down: back off (doubling, at most a minute), never a crash loop.
            wait = min(60.0, settings.RTCC_POLL_SECONDS * 2 ** min(failures, 5))
            deadline = time.monotonic() + wait
            while not stopping() and time.monotonic() < deadline:
                time.sleep(min(0.2, wait))
        logger.info("ingest stopped")
