import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cameras.commands import camera_named
from recordings.evidence.integrity import verify_segments


class Command(BaseCommand):
    help = (
        "Re-hash every segment file and check each camera's hash chain. Exits 1 naming "
        "every modified, missing or out-of-chain segment."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--camera", help="Only this camera (by name).")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        camera = camera_named(options["camera"]) if options["camera"] else None
        check = verify_segments(camera=camera)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {"ok": check.ok, "checked": check.checked, "problems": check.problems}, indent=2
                )
            )
        else:
            for p in check.problems:
                self.stdout.write(
                    f"{p['problem'].upper()}: {p['camera']} segment {p['segment']} "
                    f"(#{p['sequence']}) {p['path']}: {p['detail']}"
                )
            self.stdout.write(f"{check.checked} segments checked, {len(check.problems)} problem(s)")
        if not check.ok:
            raise SystemExit(1)
