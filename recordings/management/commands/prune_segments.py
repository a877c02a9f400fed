from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recordings.retention import prune


class Command(BaseCommand):
    help = (
        "Apply retention now: delete the oldest unheld segments until the free-space floor "
        "and the age limit are met. Held footage is never deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = prune(dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        for d in result.deleted:
            self.stdout.write(
                f"{verb} {d['camera']} {d['start']} {d['path']} "
                f"sha256={d['sha256']} ({d['reason']})"
            )
        self.stdout.write(
            f"{len(result.deleted)} segment(s) {verb}, {result.freed_bytes / 1e6:.1f} MB; "
            f"free {result.free_bytes / 1e9:.2f} GB, floor {result.floor_bytes / 1e9:.2f} GB"
        )
        if result.alarm:
            self.stderr.write(result.alarm)
            raise SystemExit(2)
