import json

from django.core.management.base import BaseCommand
from django.core.serializers.json import DjangoJSONEncoder

from sync.status import sync_status


class Command(BaseCommand):
    help = "Replication state: configured, backlog by kind, oldest pending, last success/error."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
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
        for kind, n in status["backlog_by_kind"].items():
            self.stdout.write(f"  {kind}: {n}")
        if status["oldest_pending_at"]:
            self.stdout.write(
                f"oldest pending: {status['oldest_pending_at']:%Y-%m-%d %H:%M:%S} UTC"
            )
        last = status["last_success_at"]
        self.stdout.write(f"last success: {f'{last:%Y-%m-%d %H:%M:%S} UTC' if last else 'never'}")
        if status["last_error"]:
            self.stdout.write(f"last error: {status['last_error']} ({status['failures']} in a row)")
        if status["mismatch_count"]:
            self.stdout.write(
                f"ALARM: {status['mismatch_count']} document(s) differ at the datacenter"
            )
