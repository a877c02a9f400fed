from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crimebox.daemon import require_migrated
from rtcc.trust import EnrolmentError, enrol, revoke


class Command(BaseCommand):
    help = (
        "Approve a box's signing key after comparing its fingerprint with the one the box "
        "shows (its health page, `manage.py sync_status`); --revoke withdraws it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("box", help="The box id (CRIMEBOX_BOX_ID).")
        parser.add_argument("fingerprint", help="SHA-256 of its public key, 64 hex digits.")
        parser.add_argument("--revoke", action="store_true", help="Withdraw trust in the key.")

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        try:
            if options["revoke"]:
                revoke(options["box"], options["fingerprint"])
                self.stdout.write(f"revoked {options['box']} key {options['fingerprint']}")
            else:
                key = enrol(options["box"], options["fingerprint"])
                self.stdout.write(f"enrolled {options['box']} key {key.fingerprint}")
        except EnrolmentError as e:
            raise CommandError(str(e)) from None
