import fcntl
import logging
import os
import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from recordings.recorder import Supervisor
from recordings.recovery import recover

logger = logging.getLogger("recordings.recorder")


class Command(BaseCommand):
    help = (
        "Run the recorder: recover the index after a crash, then supervise one FFmpeg per "
        "enabled camera until SIGTERM/SIGINT (the open segments are closed and indexed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between ticks.")

    def handle(self, *args, **options):
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            # After an update, before the web unit's ExecStartPre migrated: say so, and let
            # systemd start us again, rather than fail on a missing column mid-recording.
            raise CommandError("the database is not migrated: run `./manage.py migrate`")
        self.lock = hold_recorder_lock()  # held until the process exits
        result = recover()
        logger.info(
            "start-up recovery: %d file(s) indexed as partial, %d missing, %d unreadable, "
            "%d recorder-down gap(s)",
            len(result.indexed),
            len(result.missing),
            len(result.unreadable),
            result.gaps,
        )
        stop = False

        def on_signal(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        supervisor = Supervisor()
        try:
            while not stop:
                supervisor.tick()
                time.sleep(options["interval"])
        finally:
            supervisor.shutdown()
        logger.info("recorder stopped")


def hold_recorder_lock():
    """One recorder per data directory: a second one (say, started by hand beside the systemd
    unit) would run a second FFmpeg per camera into the same folders and chains."""
    path = Path(settings.DATA_DIR) / "recorder.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        handle.close()
        raise CommandError(
            f"another recorder is running on {settings.DATA_DIR} (pid {owner})"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
