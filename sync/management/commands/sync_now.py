import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sync.sender import send_pending


class Command(BaseCommand):
    help = "Send the outbox to the RTCC now (one pass, ignoring the back-off). Exits 1 on failure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = send_pending(force=True)
        out = {
            "ok": result.ok,
            "delivered": result.sent,
            "batches": result.attempts,
            "mismatches": result.mismatches,
            "squatted": result.squatted,
            "error": result.error or result.skipped,
            "held": result.held,
        }
        if options["json"]:
            self.stdout.write(json.dumps(out, indent=2))
        else:
            if result.sent or not out["error"]:
                self.stdout.write(
                    f"{result.sent} document(s) delivered in {result.attempts} batch(es)"
                )
            if result.held:
                self.stdout.write(f"not sent now: {result.held}")
            if out["error"]:
                self.stderr.write(f"FAILED: {out['error']}")
            if result.squatted:
                self.stdout.write(
                    f"ALARM: {result.squatted} document(s) delivered under an alternate id: "
                    "their own id is held at the datacenter by a document this box never signed"
                )
            if result.mismatches:
                self.stdout.write(
                    f"ALARM: {result.mismatches} document(s) differ at the datacenter"
                )
        if not result.ok:
            raise SystemExit(1)
