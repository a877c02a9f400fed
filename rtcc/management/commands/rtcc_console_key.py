from django.core.management.base import BaseCommand

from rtcc.retrieval import console_key


class Command(BaseCommand):
    help = (
        "Print the console's public key (PEM), made on first use. Put it in a file on each box "
        "and name that file in the box's CRIMEBOX_RTCC_CONSOLE_KEY_FILE: boxes act only on "
        "clip requests signed by this key."
    )

    def handle(self, *args: object, **options: object) -> None:
        key = console_key()
        self.stdout.write(key.public_pem.decode(), ending="")
        self.stderr.write(f"fingerprint {key.fingerprint}")
