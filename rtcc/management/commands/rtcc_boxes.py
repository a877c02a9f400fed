import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from crimebox.daemon import require_migrated
from rtcc.fleet import summary
from rtcc.models import IngestState


class Command(BaseCommand):
    help = (
        "The fleet as the fleet page shows it: each box's state, last contact (console's "
        "clock), enrolment, and its cameras with their state and last segment end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        now = timezone.now()
        boxes = summary(now)
        state = IngestState.get()
        if options["json"]:
            stale = {
                "last_ok_at": state.last_ok_at.isoformat() if state.last_ok_at else None,
                "last_error": state.last_error,
            }
            self.stdout.write(json.dumps({"ingest": stale, "boxes": boxes}, indent=2))
            return
        if state.last_error:
            self.stdout.write(f"ingest: {state.last_error} (last good pass {state.last_ok_at})")
        for box in boxes:
            silent = "never" if box["silent_s"] is None else f"{box['silent_s']} s ago"
            self.stdout.write(
                f"{box['box']}  {box['state']}  {box['enrolment']}  last contact {silent}"
                f"  key {box['fingerprint'][:16] or '-'}"
                + ("" if box["integrity_ok"] else "  INTEGRITY PROBLEMS")
            )
            for cam in box["cameras"]:
                self.stdout.write(
                    f"    {cam['camera']}  {cam['state']}  last segment {cam['last_segment_end']}"
                )
