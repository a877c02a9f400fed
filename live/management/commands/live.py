import fcntl
import logging
import os
import signal
import time

from django.core.management.base import BaseCommand, CommandError

from live import state
from live.supervisor import LiveSupervisor

logger = logging.getLogger("live.supervisor")
DEMAND_POLL = 0.05


class Command(BaseCommand):
    help = (
        "Run the live view supervisor: one FFmpeg (stream copy into HLS in RAM) per camera "
        "someone is watching, stopped CRIMEBOX_LIVE_IDLE_SECONDS after the last viewer, until "
        "SIGTERM/SIGINT. Closes and audits the live sessions that ended."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between ticks.")

    def handle(self, *args, **options):
        self.lock = hold_lock()  # held until the process exits
        stop = False

        def on_signal(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        supervisor = LiveSupervisor()
        logger.info("live supervisor started")
        try:
            while not stop:
                try:
                    supervisor.tick()
                except Exception:  # a locked database or a full RAM disk: log, go on
                    logger.exception("live supervisor tick failed")
                wait(supervisor, options["interval"], lambda: stop)
        finally:
            supervisor.shutdown()
        logger.info("live supervisor stopped")


def wait(supervisor: LiveSupervisor, interval: float, stopping) -> None:
    """Until the next tick; sooner when a page asks for a camera nobody was watching (the
    first picture waits on this tick)."""
    deadline = time.monotonic() + interval
    while time.monotonic() < deadline and not stopping():
        time.sleep(DEMAND_POLL)
        if supervisor.new_demand():
            return


def hold_lock():
    """One supervisor per live directory: a second would start a second FFmpeg per camera."""
    path = state.live_dir() / "supervisor.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
    except OSError as e:
        raise CommandError(f"cannot use the live directory {path.parent}: {e}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        raise CommandError(
            f"another live supervisor is running on {path.parent} (pid {owner})"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
