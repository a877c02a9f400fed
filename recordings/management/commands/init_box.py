from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cameras.testpattern import ensure_test_camera
from crimebox.first_admin import ensure_first_admin
from recordings.evidence.signing import ensure_signing_key


class Command(BaseCommand):
    help = (
        "Prepare a box on first start (safe to run again): the signing key, the first "
        "administrator (its one-time password printed once) when the box "
        "has none, and the built-in test-pattern camera when no camera exists yet."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-test-pattern",
            action="store_true",
            help="Do not add the test-pattern camera even when the box has no camera.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        key = ensure_signing_key()
        self.stdout.write(f"signing key fingerprint: {key.fingerprint}")
        if not options["no_test_pattern"]:
            camera = ensure_test_camera()
            if camera is not None:
                self.stdout.write(f"added the test-pattern camera {camera.name!r}")
        first = ensure_first_admin()
        if first is not None:
            username, password = first
            self.stdout.write(
                "\n"
                "  First administrator created (shown this once; write it down):\n"
                f"    user name: {username}\n"
                f"    password:  {password}\n"
                "  Log in with it; the box then asks for a new password.\n"
            )
