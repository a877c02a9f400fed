"""System checks for what an operator gets wrong: missing FFmpeg, footage directories, space."""

import shutil
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from crimebox.checks import unwritable_dir_errors

from .retention import free_floor


@register(Tags.compatibility, deploy=False)
def check_binaries(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
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
def check_footage_dirs(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    return unwritable_dir_errors([settings.RECORDINGS_DIR, settings.EXPORTS_DIR])


@register(Tags.compatibility)
def check_free_space(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    if not settings.RECORDINGS_DIR.is_dir():
        return []  # crimebox.E003 already says so
    usage = shutil.disk_usage(settings.RECORDINGS_DIR)
    floor = free_floor(usage.total)  # the floor retention keeps: one floor, one function
    if usage.free < floor:
        return [
            Warning(
                f"Only {usage.free / 1e9:.1f} GB free under {settings.RECORDINGS_DIR}, below "
                f"the free-space floor of {floor / 1e9:.1f} GB (the larger of "
                f"CRIMEBOX_MIN_FREE_GB={settings.MIN_FREE_GB:g} and "
                f"CRIMEBOX_MIN_FREE_PERCENT={settings.MIN_FREE_PERCENT:g} % of the disk): "
                "retention will delete the oldest unheld footage continuously.",
                hint=(
                    "Use a larger disk (a USB SSD) or lower CRIMEBOX_MIN_FREE_GB or "
                    "CRIMEBOX_MIN_FREE_PERCENT."
                ),
                id="crimebox.W001",
            )
        ]
    return []
