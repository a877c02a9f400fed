"""Who is building an export, and what happens when that process dies.

An Export row is claimed QUEUED -> RUNNING with a conditional UPDATE that also writes
`worker`: the host, PID and kernel start time of the claiming process (a PID reused by a new
process has another start time). A RUNNING row whose worker no longer runs (a Django-Q worker
killed by a timeout or kill -9, an `export_clip` stopped with Ctrl-C, a power cut) is reset to
FAILED with the reason and its temporary `.export-*` folder removed: when the task is
delivered again, when a person asks for a retry, and every minute from the retention task.
Any failure is retryable (`retry_export`): FAILED -> QUEUED, then the task again.
"""

import logging
import os
import shutil
import socket
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from ..models import Export

logger = logging.getLogger(__name__)
TASK = "recordings.evidence.export.run_export"


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def this_worker() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid)}"


def is_alive(worker: str) -> bool:
    """Whether the process that claimed a row still runs (a row claimed before workers were
    recorded, with none, has no one building it)."""
    host, _, rest = worker.partition(":")
    pid_text, _, started = rest.partition(":")
    if not worker or not pid_text.isdigit():
        return False
    if host != socket.gethostname():
        return True  # not ours to judge
    if started:
        return _started(int(pid_text)) == started
    try:  # no /proc: a signal 0 tells whether the PID exists
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(export_id: int) -> bool:
    return (
        Export.objects.filter(pk=export_id, status=Export.Status.QUEUED).update(
            status=Export.Status.RUNNING, progress=1, error="", worker=this_worker()
        )
        == 1
    )


def fail(export_id: int, reason: str, *, worker: str | None = None) -> bool:
    """RUNNING -> FAILED with the reason (only if `worker`, when given, still holds it)."""
    rows = Export.objects.filter(pk=export_id, status=Export.Status.RUNNING)
    if worker is not None:
        rows = rows.filter(worker=worker)
    return (
        rows.update(
            status=Export.Status.FAILED,
            error=reason,
            finished_at=timezone.now(),
            worker="",
            work_dir="",
        )
        == 1
    )


def remove_work_dir(path: str) -> None:
    if path and Path(path).name.startswith(".export-"):
        shutil.rmtree(path, ignore_errors=True)


def reset_if_dead(export_id: int, now: datetime | None = None) -> bool:
    """A RUNNING row whose worker died: FAILED with the reason, its temporary folder removed."""
    row = (
        Export.objects.filter(pk=export_id, status=Export.Status.RUNNING)
        .values("worker", "work_dir", "progress")
        .first()
    )
    if row is None or is_alive(row["worker"]):
        return False
    reason = (
        f"The process building it stopped at {row['progress']}% (killed, timed out or the box "
        "restarted); nothing of it was kept. Retry the export."
    )
    if not fail(export_id, reason, worker=row["worker"]):
        return False
    remove_work_dir(row["work_dir"])
    logger.warning("export %d: its worker %s is gone; marked failed", export_id, row["worker"])
    return True


def reset_dead_exports() -> list[int]:
    """The periodic check (recordings.tasks.prune_task): every RUNNING row of a dead worker."""
    running = Export.objects.filter(status=Export.Status.RUNNING).values_list("pk", flat=True)
    return [pk for pk in list(running) if reset_if_dead(pk)]


def retry_export(export_id: int) -> bool:
    """FAILED (or RUNNING by a dead worker) -> QUEUED, and the task queued after commit."""
    reset_if_dead(export_id)
    with transaction.atomic():
        queued = Export.objects.filter(pk=export_id, status=Export.Status.FAILED).update(
            status=Export.Status.QUEUED, error="", progress=0, finished_at=None
        )
        if queued:
            queue(export_id)
    return queued == 1


def queue(export_id: int) -> None:
    """Build the package in the cluster once the transaction that made the row commits (the
    one way an export is queued: the admin, the console's form and a retry)."""
    transaction.on_commit(lambda: async_task(TASK, export_id, task_name=f"export {export_id}"))
