from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from cameras.commands import camera_named
from recordings.evidence.export import run_export
from recordings.evidence.plan import ExportError, plan
from recordings.models import Export
from recordings.validators import clean_case_number, clean_reason


def parse_time(value: str, flag: str) -> datetime:
    try:
        when = parse_datetime(value)
    except ValueError:
        when = None
    if when is None:
        raise CommandError(f"{flag} {value!r} is not an ISO 8601 time, e.g. 2026-11-23T14:05:00Z")
    if when.tzinfo is None:
        raise CommandError(f"{flag} {value!r} has no time zone: add Z or an offset like -06:00")
    return when


class Command(BaseCommand):
    help = "Export a time window as a signed evidence package (zip); prints its path."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--camera",
            action="append",
            required=True,
            help="Camera name (repeat for several cameras).",
        )
        parser.add_argument("--start", required=True, help="ISO 8601 with zone.")
        parser.add_argument("--end", required=True, help="ISO 8601 with zone.")
        parser.add_argument("--case", required=True, help="Case number.")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--out", required=True, help="Directory for the package.")
        parser.add_argument("--include-originals", action="store_true")
        parser.add_argument(
            "--no-hold", action="store_true", help="Do not put the source segments on legal hold."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        start = parse_time(options["start"], "--start")
        end = parse_time(options["end"], "--end")
        cameras = [camera_named(name) for name in options["camera"]]
        try:
            case_number = clean_case_number(options["case"])
            reason = clean_reason(options["reason"])
        except ValidationError as e:
            raise CommandError(e.messages[0]) from None
        out = Path(options["out"])
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out} is not a directory")
        try:
            plan(cameras, start, end)  # every input error before anything is written
        except ExportError as e:
            raise CommandError(str(e)) from None
        export = Export.objects.create(
            start=start,
            end=end,
            case_number=case_number,
            reason=reason,
            include_originals=options["include_originals"],
            hold_sources=not options["no_hold"],
        )
        export.cameras.set(cameras)
        result = run_export(export.pk, out_dir=out.resolve())
        export.refresh_from_db()
        if export.status != Export.Status.DONE:
            raise CommandError(f"export failed: {export.error}")
        self.stdout.write(result)
