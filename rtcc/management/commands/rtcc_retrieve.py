import logging
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crimebox import daemon
from rtcc.retrieval import tick
from rtcc.retrieval_mongo import RetrievalLinkError

logger = logging.getLogger("rtcc.retrieval")


class Command(BaseCommand):
    help = (
        "Follow clip requests: the boxes' answers, upload progress, then assemble, verify and "
        "store each uploaded package; every CRIMEBOX_RTCC_POLL_SECONDS until SIGTERM (--once: "
        "one pass, exit 1 when the ledger could not be read)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        daemon.require_migrated()
        # One per console database: two would assemble the same package side by side.
        self.lock = daemon.hold_lock(Path(settings.DATA_DIR) / "rtcc-retrieve.lock", "retrieve")
        if options["once"]:
            try:
                self.stdout.write(f"{tick()} open clip job(s) followed")
            except RetrievalLinkError as e:
                raise CommandError(str(e)) from None
            return
        self.loop()

    def loop(self) -> None:
        stopping = daemon.stop_on_signals()
        logger.info("clip jobs followed (pid %d)", os.getpid())
        failures, last_error = 0, ""
        while not stopping():
            try:
                tick()
                if last_error:
                    logger.info("clip jobs: the ledger answers again")
                failures, last_error = 0, ""
            except RetrievalLinkError as e:
                if str(e) != last_error:
                    logger.error("clip jobs: %s", e)
                failures, last_error = failures + 1, str(e)
            # The ledger down: back off (doubling, at most a minute), never a crash loop.
            wait = min(60.0, settings.RTCC_POLL_SECONDS * 2 ** min(failures, 5))
            deadline = time.monotonic() + wait
            while not stopping() and time.monotonic() < deadline:
                time.sleep(min(0.2, wait))
        logger.info("clip jobs: stopped")
