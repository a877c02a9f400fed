"""Django-Q tasks of replication and their schedules (created after every migrate)."""

from django_q.models import Schedule

from crimebox import schedules

SCHEDULES: schedules.Schedules = {
    # The safety net behind the task queued when outbox rows commit.
    "sync to RTCC": ("sync.tasks.send_task", Schedule.MINUTES, 1),
    "heartbeat": ("sync.tasks.heartbeat_task", Schedule.MINUTES, 1),
    "prune outbox": ("sync.tasks.prune_task", Schedule.HOURLY, None),
    # Clip requests from the RTCC console; a job in progress re-queues itself until done.
    "RTCC clip requests": ("sync.tasks.retrieval_task", Schedule.MINUTES, 1),
}


def send_task() -> str:
    from .sender import send_pending

    result = send_pending()
    return result.skipped or result.error or f"{result.sent} document(s) delivered"


def heartbeat_task() -> str:
    import logging

    from .heartbeat import beat
    from .sender import send_pending

    try:
        written = beat() is not None
    except Exception:  # said in the log; the send below still runs
        logging.getLogger(__name__).exception("heartbeat: not written")
        written = False
    send_pending()
    return "heartbeat written" if written else "heartbeat NOT written (see the log)"


def prune_task() -> str:
    from .outbox import prune

    return str(prune())


def retrieval_task() -> str:
    from django_q.tasks import async_task

    from .upload import LINK_DOWN, has_work, run

    result = run()
    if has_work() and not result.startswith(LINK_DOWN):  # sooner than the schedule
        async_task("sync.tasks.retrieval_task", save=False, q_options={"timeout": 300})
    return result


def ensure_schedules() -> list[str]:
    return schedules.ensure_schedules(SCHEDULES)
