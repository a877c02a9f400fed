"""Django-Q tasks: plain functions, safe to run twice, and the schedules that call them."""

import logging

from django_q.models import Schedule

from crimebox import schedules

SCHEDULES: schedules.Schedules = {
    "retention": ("recordings.tasks.prune_task", Schedule.MINUTES, 1),
    # Re-hashes every file on disk: daily, a Pi 4 hashes ~140 MB/s (a year of 4 cameras is
    # hours of work, read at low priority by the cluster).
    "verify segments": ("recordings.tasks.verify_task", Schedule.DAILY, None),
    # A viewing of a segment becomes its one audit entry once idle (audit/viewings.py); also
    # those a killed web process left open.
    "close idle viewings": ("recordings.tasks.close_viewings_task", Schedule.MINUTES, 1),
}


def prune_task() -> str:
    from .evidence.jobs import reset_dead_exports
    from .retention import expire_exports, prune

    result = prune()
    expired = expire_exports()
    reset_dead_exports()  # an export whose worker died: failed, its temporary folder removed
    return (
        result.alarm
        or f"{len(result.deleted)} segment(s) deleted, {len(expired)} package(s) expired"
    )


def close_viewings_task() -> str:
    from audit.viewings import close_idle

    return f"{close_idle()} viewing(s) audited"


def verify_task() -> str:
    from audit.log import run_check

    from .evidence.integrity import verify_segments

    check = verify_segments()
    audit_problems = run_check().problems
    if audit_problems:
        logging.getLogger(__name__).critical("audit chain broken: %s", "; ".join(audit_problems))
    state = "OK" if check.ok and not audit_problems else "FAILED"
    return (
        f"{state}: {check.checked} segments checked, {len(check.problems)} problems; "
        f"audit chain {'broken: ' + '; '.join(audit_problems) if audit_problems else 'intact'}"
    )


def ensure_schedules() -> list[str]:
    """Create or update the recordings' schedules idempotently; returns their names."""
    return schedules.ensure_schedules(SCHEDULES)
