"""System checks of the replication settings.

A bad URI, an unreadable URI file or a missing certificate is a **warning** (sync.W001), never
an error: an error would stop `record`, `live` and `qcluster` from starting, and a replication
typo must not stop recording (docs/sync.md). Replication stays off and /health says why. The same
holds for the RTCC console's key (sync.W002): without a readable key, clip requests are never
acted on, and recording goes on.
"""

from pathlib import Path

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from crimebox.keys import public_key_from_pem

from .remote import config_problem


@register(Tags.compatibility)
def check_rtcc(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    problem = config_problem()
    messages: list[CheckMessage] = []
    if problem:
        messages.append(
            Warning(
                f"Replication to the RTCC is off: {problem}.",
                hint="mongodb://USER:PASSWORD@HOST:27017/?authSource=rtcc (docs/sync.md); "
                "percent-encode @ : / in the password; the URI file must be readable by the "
                "crimebox user. Recording is not affected.",
                id="sync.W001",
            )
        )
    return messages + check_console_key()


def check_console_key() -> list[CheckMessage]:
    path = settings.RTCC_CONSOLE_KEY_FILE
    if not path:
        return []
    try:
        public_key_from_pem(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        return [
            Warning(
                f"Clip requests from the RTCC are off: CRIMEBOX_RTCC_CONSOLE_KEY_FILE names "
                f"{path}, which is not a readable Ed25519 public key (PEM): "
                f"{getattr(e, 'strerror', None) or e}",
                hint="Copy the output of the console's `manage.py rtcc_console_key` into it. "
                "Recording is not affected.",
                id="sync.W002",
            )
        ]
    return []
