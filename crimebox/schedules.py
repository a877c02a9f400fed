"""Django-Q schedules are created in code, idempotently: each app's tasks module lists its own."""

from django_q.models import Schedule

# name: (function path, schedule type, minutes or None)
Schedules = dict[str, tuple[str, str, int | None]]


def ensure_schedules(schedules: Schedules) -> list[str]:
    """Create or update the schedules by name; returns their names."""
    for name, (func, kind, minutes) in schedules.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": kind, "minutes": minutes, "repeats": -1},
        )
    return list(schedules)
