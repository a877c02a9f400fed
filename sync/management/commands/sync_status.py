import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from sync.status import sync_status


class Command(BaseCommand):
    help = "Replication state: configured, backlog by kind, oldest pending, last success/error."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        status = sync_status()
        if options["json"]:
            self.stdout.write(json.dumps(status, indent=2, cls=DjangoJSONEncoder))
            return
        off = "off (CRIMEBOX_RTCC_URI not set)"
        # Read out on site when the RTCC enrols the box: rtcc_enrol BOX FINGERPRINT.
        self.stdout.write(f"box: {status['box']}  key fingerprint: {status['fingerprint']}")
        self.stdout.write(
            f"replication: {'to ' + status['target'] if status['configured'] else off}"
        )
        self.stdout.write(
            f"backlog: {status['backlog']} document(s), {status['backlog_bytes']} bytes"
        )
        if status["problem"]:
            self.stdout.write(f"NOT SENDING: {status['problem']}")
        for kind, n in status["backlog_by_kind"].items():
            self.stdout.write(f"  {kind}: {n}")
        for c in status["claimed"]:
            since = f"{c['since']:%H:%M:%S} UTC" if c["since"] else "?"
            who = f"pid {c['pid']}" if c["pid"] else "a sender"
            state = "running" if c["running"] else c["note"]
            self.stdout.write(f"  claimed: {c['rows']} by {who} since {since} ({state})")
        if status["oldest_pending_at"]:
            self.stdout.write(
                f"oldest pending: {status['oldest_pending_at']:%Y-%m-%d %H:%M:%S} UTC"
            )
        last = status["last_success_at"]
        self.stdout.write(f"last success: {f'{last:%Y-%m-%d %H:%M:%S} UTC' if last else 'never'}")
        if status["last_error"]:
            self.stdout.write(f"last error: {status['last_error']} ({status['failures']} in a row)")
        if status["squatted_count"]:
            self.stdout.write(
                f"ALARM: {status['squatted_count']} id(s) squatted at the datacenter by "
                f"documents not signed by this box (e.g. {status['squatted'][0]})"
            )
        if status["mismatch_count"]:
            self.stdout.write(
                f"ALARM: {status['mismatch_count']} document(s) differ at the datacenter"
            )
