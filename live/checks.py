"""System checks of live view's settings (registered in live/apps.py)."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from .state import in_ram, live_dir


def check_live_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if settings.LIVE_MAX_CAMERAS < 1:
        problems.append(
            Error(
                f"CRIMEBOX_LIVE_MAX_CAMERAS is {settings.LIVE_MAX_CAMERAS}: nobody could watch.",
                hint="Set it to 1 or more (default 2); disable live view by removing "
                "live.view_live from the roles instead.",
                id="live.E001",
            )
        )
    if settings.LIVE_IDLE_SECONDS < 3:
        problems.append(
            Error(
                f"CRIMEBOX_LIVE_IDLE_SECONDS is {settings.LIVE_IDLE_SECONDS}: streams would stop "
                "under people watching (the player asks every 1-2 s).",
                hint="Set it to 3 or more (default 60).",
                id="live.E002",
            )
        )
    folder = live_dir()
    if not in_ram(folder):
        problems.append(
            Warning(
                f"The live directory {folder} is not in RAM (tmpfs): live segments, a few "
                "kilobytes a second per camera, would wear the SD card.",
                hint="Unset CRIMEBOX_LIVE_DIR (default /run/crimebox/live or "
                "/dev/shm/crimebox-live) or point it at a tmpfs.",
                id="live.W001",
            )
        )
    return problems
