import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from crimebox import daemon
from recordings.recorder import Supervisor, supervise
from recordings.recovery import recover

logger = logging.getLogger("recordings.recorder")


class Command(BaseCommand):
    help = (
        "Run the recorder: recover the index after a crash, then supervise one FFmpeg per "
        "enabled camera until SIGTERM/SIGINT (the open segments are closed and indexed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between ticks.")

    def handle(self, *args: Any, **options: Any) -> None:
        daemon.require_migrated()
        # One recorder per data directory: a second one (say, started by hand beside the
        # systemd unit) would run a second FFmpeg per camera into the same folders and chains.
        self.lock = daemon.hold_lock(Path(settings.DATA_DIR) / "recorder.lock", "recorder")
        result = recover()
        logger.info(
            "start-up recovery: %d file(s) indexed as partial, %d missing, %d unreadable, "
            "%d recorder-down gap(s)",
            len(result.indexed),
            len(result.missing),
            len(result.unreadable),
            result.gaps,
        )
        stopping = daemon.stop_on_signals()
        supervisor = Supervisor()
        try:
            supervise(supervisor, options["interval"], stopping)
        finally:
            supervisor.shutdown()
        logger.info("recorder stopped")
