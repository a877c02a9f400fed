from typing import Any

from django.core.management.base import BaseCommand

from crimebox.first_admin import ensure_first_admin


class Command(BaseCommand):
    help = (
        "Prepare the console on first start (safe to run again): the first administrator, "
        "its one-time password printed once, when the console has none. The roles are made "
        "by migrate (rtcc/roles.py)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        first = ensure_first_admin()
        if first is None:
            return
        username, password = first
        self.stdout.write(
            "\n"
            "  First console administrator created (shown this once; write it down):\n"
            f"    user name: {username}\n"
            f"    password:  {password}\n"
            "  Log in with it; the console then asks for a new password.\n"
        )
