import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from crimebox import daemon
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

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between ticks.")

    def handle(self, *args: Any, **options: Any) -> None:
        # One supervisor per live directory: a second would start a second FFmpeg per camera.
        self.lock = daemon.hold_lock(state.live_dir() / "supervisor.lock", "live supervisor")
        stopping = daemon.stop_on_signals()
        supervisor = LiveSupervisor()
        logger.info("live supervisor started")
        try:
            while not stopping():
                try:
                    supervisor.tick()
                except Exception:  # a locked database or a full RAM disk: log, go on
                    logger.exception("live supervisor tick failed")
                wait(supervisor, options["interval"], stopping)
        finally:
            supervisor.shutdown()
        logger.info("live supervisor stopped")


def wait(supervisor: LiveSupervisor, interval: float, stopping: Callable[[], bool]) -> None:
    """Until the next tick; sooner when a page asks for a camera nobody was watching (the
    first picture waits on this tick)."""
    deadline = time.monotonic() + interval
    while time.monotonic() < deadline and not stopping():
        time.sleep(DEMAND_POLL)
        if supervisor.new_demand():
            return
