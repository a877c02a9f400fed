"""Django-Q tasks: plain functions taking primary keys, safe to run twice."""


def ensure_schedules() -> list[str]:
    """Create or update the box's schedules idempotently; returns their names."""
    return []
