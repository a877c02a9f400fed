"""Django-Q schedules are created in code, idempotently: each app's tasks module lists its own
(`SCHEDULES`), and its AppConfig has them created after every migrate, so `start`, `install`
and `update` all get them and a schedule added in a new version reaches a box already in
the field."""

from importlib import import_module
from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate

# name: (function path, schedule type, minutes or None)
Schedules = dict[str, tuple[str, str, int | None]]


def ensure_schedules(schedules: Schedules) -> list[str]:
    """Create or update the schedules by name; returns their names."""
    from django_q.models import Schedule

    for name, (func, kind, minutes) in schedules.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": kind, "minutes": minutes, "repeats": -1},
        )
    return list(schedules)


def create_after_migrate(app: AppConfig, tasks_module: str) -> None:
    """Have `tasks_module`'s SCHEDULES created after every migrate of `app` (not where
    Django-Q is not installed: the RTCC console loads the cameras app for its models only)."""
    if not apps.is_installed("django_q"):
        return

    def receiver(sender: Any, **kwargs: Any) -> None:
        ensure_schedules(import_module(tasks_module).SCHEDULES)

    post_migrate.connect(receiver, sender=app, weak=False, dispatch_uid=f"{tasks_module}.schedules")
