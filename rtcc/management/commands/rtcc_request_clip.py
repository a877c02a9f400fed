from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crimebox.daemon import require_migrated
from rtcc.retrieval import RequestError, request_clip
from rtcc.retrieval_mongo import RetrievalLinkError


def _time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{text!r} is not a time: use e.g. 2026-11-24T14:00:00Z") from None
    if when.tzinfo is None:
        raise CommandError(f"{text!r} has no time zone: end it with Z (UTC) or +HH:MM")
    return when


class Command(BaseCommand):
    help = "Ask a box for a clip; prints the request id (follow it with rtcc_jobs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--box", required=True)
        parser.add_argument("--camera", required=True, help="The camera's name on its box.")
        parser.add_argument("--start", required=True, help="ISO time with zone, e.g. ...Z")
        parser.add_argument("--end", required=True)
        parser.add_argument("--case", required=True)
        parser.add_argument("--reason", required=True)
        parser.add_argument("--user", required=True, help="The console user asking.")
        parser.add_argument("--priority", type=int, default=0)

    def handle(self, *args: Any, **o: Any) -> None:
        require_migrated()
        try:
            job = request_clip(
                box_id=o["box"],
                camera=o["camera"],
                start=_time(o["start"]),
                end=_time(o["end"]),
                case_number=o["case"],
                reason=o["reason"],
                user=o["user"],
                priority=o["priority"],
            )
        except (RequestError, RetrievalLinkError) as e:
            raise CommandError(str(e)) from None
        self.stdout.write(job.request)
