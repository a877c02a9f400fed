import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.discovery import discover


class Command(BaseCommand):
    help = "Find ONVIF cameras on the camera LAN with WS-Discovery."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--timeout",
            type=float,
            default=3.0,
            metavar="S",
            help="seconds to wait for answers (default 3)",
        )
        parser.add_argument("--json", action="store_true", help="print results as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not 0 < opts["timeout"] <= 60:
            raise CommandError("--timeout must be between 0 and 60 seconds")
        try:
            devices = discover(opts["timeout"])
        except OSError as e:
            raise CommandError(f"WS-Discovery failed: {e.strerror or e}") from None
        if opts["json"]:
            self.stdout.write(json.dumps([d.as_dict() for d in devices], indent=2))
            return
        for d in devices:
            self.stdout.write(
                f"{d.host}:{d.port}\t{d.name or '-'}\t{d.hardware or '-'}\t{d.xaddrs[0]}"
            )
        self.stdout.write(f"{len(devices)} device(s) found")
