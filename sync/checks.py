"""System checks of the replication settings.

A bad URI, an unreadable URI file or a missing certificate is a **warning** (sync.W001), never
an error: an error would stop `record`, `live` and `qcluster` from starting, and a replication
typo must not stop recording (docs/sync.md). Replication stays off and /health says why.
"""

from django.core.checks import CheckMessage, Tags, Warning, register

from .remote import config_problem


@register(Tags.compatibility)
def check_rtcc(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    problem = config_problem()
    if not problem:
        return []
    return [
        Warning(
            f"Replication to the RTCC is off: {problem}.",
            hint="mongodb://USER:PASSWORD@HOST:27017/?authSource=rtcc (docs/sync.md); "
            "percent-encode @ : / in the password; the URI file must be readable by the "
            "crimebox user. Recording is not affected.",
            id="sync.W001",
        )
    ]
