"""System checks of the replication settings: a bad URI, file or certificate fails at start-up
(with the URI's credentials left out of the message), not at the first send."""

from pathlib import Path

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from pymongo.errors import ConfigurationError, InvalidURI
from pymongo.uri_parser import parse_uri

from crimebox.keys import public_key_from_pem

from .remote import RemoteError, configured_uri, redact


@register(Tags.compatibility)
def check_rtcc(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    try:
        uri = configured_uri()
    except RemoteError as e:
        return [Error(str(e), hint="Make the file readable by the crimebox user.", id="sync.E001")]
    if uri:
        try:
            parse_uri(uri, validate=True, warn=False)
        except (InvalidURI, ConfigurationError, ValueError) as e:
            errors.append(
                Error(
                    f"CRIMEBOX_RTCC_URI is not a valid MongoDB URI: {redact(e, uri)}",
                    hint="mongodb://USER:PASSWORD@HOST:27017/?authSource=rtcc (docs/sync.md); "
                    "percent-encode @ : / in the password.",
                    id="sync.E002",
                )
            )
    for name in ("RTCC_TLS_CA_FILE", "RTCC_TLS_CERT_FILE"):
        path = getattr(settings, name)
        if path and not Path(path).is_file():
            errors.append(
                Error(f"CRIMEBOX_{name} names {path}, which is not a file.", id="sync.E003")
            )
    errors += check_console_key()
    return errors


def check_console_key() -> list[CheckMessage]:
    path = settings.RTCC_CONSOLE_KEY_FILE
    if not path:
        return []
    try:
        public_key_from_pem(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        return [
            Error(
                f"CRIMEBOX_RTCC_CONSOLE_KEY_FILE names {path}, which is not a readable Ed25519 "
                f"public key (PEM): {getattr(e, 'strerror', None) or e}",
                hint="Copy the output of the console's `manage.py rtcc_console_key` into it.",
                id="sync.E004",
            )
        ]
    return []
