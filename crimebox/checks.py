"""System checks of the box itself: its data directory. Each app registers its own checks
(recordings: FFmpeg, the footage directories, free space); crimebox/apps.py registers these."""

import os
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


def unwritable_dir_errors(dirs: Iterable[Path]) -> list[CheckMessage]:
    """crimebox.E003 for each directory that is missing or not writable by this user."""
    errors: list[CheckMessage] = []
    for d in dirs:
        if not (d.is_dir() and os.access(d, os.W_OK | os.X_OK)):
            errors.append(
                Error(
                    f"Directory {d} does not exist or is not writable by this user.",
                    hint="Set CRIMEBOX_DATA_DIR to a directory the crimebox user owns "
                    "(e.g. `chown -R crimebox /var/lib/crimebox`).",
                    id="crimebox.E003",
                )
            )
    return errors


@register(Tags.compatibility)
def check_data_dir(app_configs=None, **kwargs) -> list[CheckMessage]:
    return unwritable_dir_errors([settings.DATA_DIR])
