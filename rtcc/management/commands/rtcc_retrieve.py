import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from rtcc.retrieval import tick


class Command(BaseCommand):
    help = (
        "Follow clip requests: the boxes' answers, upload progress, then assemble, verify and "
        "store each uploaded package (a loop around tick(); --once for one pass)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *a: stop.update(now=True))
        while not stop["now"]:
            tick()
            if options["once"]:
                return
            time.sleep(settings.RTCC_POLL_SECONDS)
