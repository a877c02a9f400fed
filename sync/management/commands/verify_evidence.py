import json
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recordings.evidence.verify import verify_package
from sync import remote
from sync.verify import check_fingerprint, verify_package_remote

NEEDS_FINGERPRINT = (
    "--rtcc needs --fingerprint HEX: the fingerprint of the box's key as the RTCC enrolled it "
    "(from the RTCC's records or the box's front page, never from the package or the "
    "datacenter's boxes collection: anyone holding the box's datacenter login can add a key "
    "there). See docs/sync.md, 'Trust'."
)


class Command(BaseCommand):
    help = (
        "Verify an evidence package offline: signature, every file's SHA-256 and the chain "
        "between included originals; with --rtcc also every source segment against the RTCC "
        "datacenter, trusting only the key whose fingerprint --fingerprint names. Exits 1 "
        "naming every failure."
    )

    stealth_options = ("stdin",)  # tests hand in the URI as standard input

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("package", help="The evidence zip.")
        parser.add_argument(
            "--rtcc",
            metavar="URI",
            help="MongoDB URI of the RTCC datacenter ('-' reads it from standard input, "
            "keeping a password out of the process list).",
        )
        parser.add_argument("--rtcc-db", help="Database name (default CRIMEBOX_RTCC_DB).")
        parser.add_argument(
            "--recordings",
            metavar="DIR",
            help="On the box: the recordings directory, to check footage exported while it was "
            "still being recorded against its segment file, closed since.",
        )
        parser.add_argument(
            "--fingerprint",
            metavar="HEX",
            help="With --rtcc (required): the SHA-256 fingerprint of the key the RTCC enrolled "
            "for the box; the package and every datacenter document must be signed by it.",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        fingerprint = ""
        if options["rtcc"]:
            if not options["fingerprint"]:
                raise CommandError(NEEDS_FINGERPRINT)
            try:
                fingerprint = check_fingerprint(options["fingerprint"])
            except ValueError as e:
                raise CommandError(f"--fingerprint: {e}") from None
        recordings = options.get("recordings")
        result = verify_package(options["package"], Path(recordings) if recordings else None)
        checked, failures = list(result.checked), list(result.failures)
        notes = list(result.notes)
        if options["rtcc"] and result.fingerprint:
            uri = options["rtcc"]
            if uri == "-":
                uri = (options.get("stdin") or sys.stdin).readline().strip()
            try:
                there = verify_package_remote(
                    options["package"],
                    uri=uri,
                    db=options["rtcc_db"] or settings.RTCC_DB,
                    fingerprint=fingerprint,
                )
            except remote.RemoteError as e:
                failures.append(f"datacenter: cannot read it: {e}")
            else:
                checked.append(f"{there.checked} source segment(s) compared with the datacenter")
                checked += [f"datacenter: {p}" for p in there.proved]
                notes += [f"datacenter: {n}" for n in there.notes]
                failures += [f"datacenter: {p['what']}: {p['detail']}" for p in there.problems]
                if there.unlisted:
                    failures.append(f"datacenter: {there.unlisted} more problem(s) not listed")
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": not failures,
                        "fingerprint": result.fingerprint,
                        "checked": checked,
                        "failures": failures,
                        "notes": notes,
                    },
                    indent=2,
                )
            )
        else:
            for item in checked:
                self.stdout.write(f"OK      {item}")
            for failure in failures:
                self.stdout.write(f"FAILED  {failure}")
            for note in notes:
                self.stdout.write(f"NOTE    {note}")
            self.stdout.write(
                f"signing key fingerprint: {result.fingerprint or 'unknown'} "
                "(compare with the one the box shows)"
            )
        if failures:
            raise SystemExit(1)
        if not options["json"]:
            self.stdout.write("package verified")
