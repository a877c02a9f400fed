"""System checks of the box itself: its data directory and data disk. Each app registers its
own checks (recordings: FFmpeg, the footage directories, free space); crimebox/apps.py registers
these."""

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from django.apps import AppConfig
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
def check_data_dir(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    return unwritable_dir_errors([settings.DATA_DIR])


@register(Tags.compatibility)
def check_data_mount(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """crimebox.E010: a data disk is configured but not mounted (footage would go to the SD)."""
    mount = settings.DATA_MOUNT
    if not mount or os.path.ismount(mount):
        return []
    return [
        Error(
            f"The data disk is not mounted on {mount} (CRIMEBOX_DATA_MOUNT): refusing to record "
            "onto the root filesystem.",
            hint="Check the disk and its /etc/fstab line (`findmnt --verify`, `mount "
            f"{mount}`), or unset CRIMEBOX_DATA_MOUNT to record on the root filesystem.",
            id="crimebox.E010",
        )
    ]
