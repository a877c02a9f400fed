import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crimebox.daemon import require_migrated
from rtcc.ledger import Ledger, LedgerError
from rtcc.verify import box_ids, verify_all


class Command(BaseCommand):
    help = (
        "Check everything the ledger holds for each box (or --box): signatures with the "
        "enrolled key, every document number accounted for, every camera's chain continuous "
        "and recomputed, every segment the console shows still there. Exit 1 on any problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--box", help="Only this box id.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        try:
            ledger = Ledger()
            known = box_ids(ledger)
            if options["box"] and options["box"] not in known:
                raise CommandError(f"no box {options['box']!r} has written to the ledger")
            reports = verify_all(ledger, options["box"])
        except LedgerError as e:
            raise CommandError(f"cannot read the ledger: {e}") from None
        findings = [f for r in reports for f in r.findings or []]
        if options["json"]:
            out = [
                {
                    "box": r.box,
                    "documents": r.documents,
                    "segments": r.segments,
                    "ok": not r.findings,
                    "problems": [f.as_dict() for f in r.findings or []],
                }
                for r in reports
            ]
            self.stdout.write(json.dumps({"ok": not findings, "boxes": out}, indent=2))
        else:
            for r in reports:
                state = "OK" if not r.findings else f"{len(r.findings)} problem(s)"
                self.stdout.write(
                    f"{r.box}: {r.documents} documents, {r.segments} segments: {state}"
                )
                for finding in r.findings or []:
                    self.stdout.write(f"  {finding}")
        if findings:
            raise SystemExit(1)
