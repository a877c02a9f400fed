import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cameras.commands import camera_named
from sync.remote import RemoteError
from sync.verify import verify_remote


class Command(BaseCommand):
    help = (
        "Compare every local chained segment's SHA-256, chain hash and times with the RTCC "
        "datacenter's copy, every document checked with the box's key. Exits 1 naming each "
        "segment missing there, different there, not signed by the box, or there but gone here."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--camera", help="Only this camera (by name).")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        camera = camera_named(options["camera"]) if options["camera"] else None
        try:
            result = verify_remote(camera)
        except RemoteError as e:
            raise CommandError(f"cannot read the datacenter: {e}") from None
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": result.ok,
                        "checked": result.checked,
                        "counts": result.counts,
                        "problems": result.problems,
                    },
                    indent=2,
                )
            )
        else:
            for p in result.problems:
                self.stdout.write(f"{p['problem'].upper()}: {p['what']}: {p['detail']}")
            if result.unlisted:
                self.stdout.write(f"... and {result.unlisted} more problem(s) not listed")
            self.stdout.write(
                f"{result.checked} segments compared, {sum(result.counts.values())} problem(s)"
            )
        if not result.ok:
            raise SystemExit(1)
