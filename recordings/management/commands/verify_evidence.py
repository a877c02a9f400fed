from django.core.management.base import BaseCommand

from recordings.evidence.verify import verify_package


class Command(BaseCommand):
    help = (
        "Verify an evidence package offline: signature, every file's SHA-256 and the chain "
        "between included originals. Exits 1 naming every failure."
    )

    def add_arguments(self, parser):
        parser.add_argument("package", help="The evidence zip.")

    def handle(self, *args, **options):
        result = verify_package(options["package"])
        for item in result.checked:
            self.stdout.write(f"OK      {item}")
        for failure in result.failures:
            self.stdout.write(f"FAILED  {failure}")
        self.stdout.write(
            f"signing key fingerprint: {result.fingerprint or 'unknown'} "
            "(compare with the one the box shows)"
        )
        if not result.ok:
            raise SystemExit(1)
        self.stdout.write("package verified")
