import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.log import run_check


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; exits 1 naming altered or missing entries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        check = run_check()
        problems, count = check.problems, check.checked
        if options["json"]:
            self.stdout.write(
                json.dumps({"ok": not problems, "entries": count, "problems": problems})
            )
        else:
            for p in problems:
                self.stdout.write(f"FAILED: {p}")
            self.stdout.write(f"{count} audit entries checked, {len(problems)} problem(s)")
        if problems:
            raise SystemExit(1)
