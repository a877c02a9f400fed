"""System checks for what an operator gets wrong: missing binaries, data dir, free space."""

import os
import shutil

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility, deploy=False)
def check_binaries(app_configs=None, **kwargs):
    errors = []
    for i, (name, value) in enumerate(
        (("CRIMEBOX_FFMPEG", settings.FFMPEG), ("CRIMEBOX_FFPROBE", settings.FFPROBE)), start=1
    ):
        if shutil.which(value) is None:
            errors.append(
                Error(
                    f"{value} is not installed or not on PATH.",
                    hint=(
                        f"Install it with `apt-get install ffmpeg`, or set {name} to its full path."
                    ),
                    id=f"crimebox.E00{i}",
                )
            )
    return errors


@register(Tags.compatibility)
def check_data_dir(app_configs=None, **kwargs):
    errors = []
    for d in (settings.DATA_DIR, settings.RECORDINGS_DIR, settings.EXPORTS_DIR):
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
def check_free_space(app_configs=None, **kwargs):
    if not settings.RECORDINGS_DIR.is_dir():
        return []  # crimebox.E003 already says so
    usage = shutil.disk_usage(settings.RECORDINGS_DIR)
    free_gb = usage.free / 1e9
    if free_gb < settings.MIN_FREE_GB:
        return [
            Warning(
                f"Only {free_gb:.1f} GB free under {settings.RECORDINGS_DIR}, below "
                f"CRIMEBOX_MIN_FREE_GB={settings.MIN_FREE_GB:g}: retention will delete the oldest "
                "unheld footage continuously.",
                hint="Use a larger disk (a USB SSD) or lower CRIMEBOX_MIN_FREE_GB.",
                id="crimebox.W001",
            )
        ]
    return []
