"""Retention: keep the disk's free-space floor and the age limit, oldest footage first.

Policy (docs/integrity.md): delete the oldest closed, unheld segments across all cameras
until at least CRIMEBOX_MIN_FREE_GB and CRIMEBOX_MIN_FREE_PERCENT are free, and every segment
older than CRIMEBOX_RETENTION_DAYS. Never a held segment, never the file FFmpeg is writing
(only indexed, closed files are candidates), so recording never stops for retention. When only
held footage is left and the floor is still not met, a critical alarm is raised and recording
goes on until the disk is truly full. Every deletion keeps its row (status deleted: the hash
chain still verifies) and writes an audit entry with the file's hash.
"""

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from crimebox import outbox

from .models import Export, Segment

if TYPE_CHECKING:
    from shutil import _ntuple_diskusage  # what shutil.disk_usage returns

logger = logging.getLogger(__name__)


@dataclass
class PruneResult:
    deleted: list[dict] = field(default_factory=list)
    freed_bytes: int = 0
    free_bytes: int = 0
    floor_bytes: int = 0
    alarm: str = ""


def free_floor(total: int) -> int:
    """The free-space floor of a disk of `total` bytes: the larger of CRIMEBOX_MIN_FREE_GB and
    CRIMEBOX_MIN_FREE_PERCENT. Retention keeps it; the system check warns below it."""
    return int(max(settings.MIN_FREE_GB * 1e9, total * settings.MIN_FREE_PERCENT / 100))


def _delete(segment: Segment, reason: str, now: datetime) -> None:
    with transaction.atomic():
        claimed = (
            Segment.objects.on_disk()
            .filter(pk=segment.pk, on_hold=False)
            .update(status=Segment.Status.DELETED, deleted_at=now, note=f"retention: {reason}")
        )
        if claimed != 1:
            return  # held or deleted meanwhile
        outbox.report(
            outbox.SEGMENT_EVENT, segment, event="deleted", at=now, note=f"retention: {reason}"
        )
        segment.abs_path.unlink(missing_ok=True)
    log.record(
        AuditEvent.Action.RETENTION_DELETE,
        username="retention",
        camera=segment.camera,
        target=f"segment {segment.pk}",
        detail={
            "path": segment.path,
            "sha256": segment.sha256,
            "reason": reason,
            "start": segment.start,
            "end": segment.end,
            "size": segment.size,
        },
    )


def prune(
    now: datetime | None = None,
    dry_run: bool = False,
    disk_usage: "Callable[[Path], _ntuple_diskusage] | None" = None,
) -> PruneResult:
    now = now or timezone.now()
    usage = (disk_usage or shutil.disk_usage)(settings.RECORDINGS_DIR)
    result = PruneResult(free_bytes=usage.free, floor_bytes=free_floor(usage.total))
    cutoff = now - timedelta(days=settings.RETENTION_DAYS)
    need = result.floor_bytes - usage.free
    for segment in Segment.objects.deletable().select_related("camera").iterator():
        if segment.start < cutoff:
            reason = f"older than {settings.RETENTION_DAYS} days"
        elif need > result.freed_bytes:
            reason = "free space below the floor"
        else:
            break  # oldest first: nothing later is due
        result.deleted.append(
            {
                "segment": segment.pk,
                "camera": segment.camera.name,
                "path": segment.path,
                "sha256": segment.sha256,
                "start": segment.start.isoformat(),
                "reason": reason,
            }
        )
        result.freed_bytes += segment.size
        if not dry_run:
            _delete(segment, reason, now)
    if need > result.freed_bytes:
        result.alarm = held_only_alarm(usage.free, result.floor_bytes)
        logger.critical(result.alarm)
    if result.deleted and not dry_run:
        logger.info(
            "retention deleted %d segment(s), %.1f MB",
            len(result.deleted),
            result.freed_bytes / 1e6,
        )
    return result


def held_only_alarm(free: int, floor: int) -> str:
    held = Segment.objects.on_disk().filter(on_hold=True).count()
    return (
        f"CRITICAL: free space {free / 1e9:.2f} GB is below the floor {floor / 1e9:.2f} GB "
        f"and only footage on legal hold ({held} segments) is left to delete. Recording "
        "continues until the disk is full: release holds or add storage."
    )


def storage_alarm(disk_usage: "Callable[[Path], _ntuple_diskusage] | None" = None) -> str:
    """The critical alarm, derived now (any process can ask): below the floor, nothing to delete."""
    usage = (disk_usage or shutil.disk_usage)(settings.RECORDINGS_DIR)
    floor = free_floor(usage.total)
    if usage.free >= floor or Segment.objects.deletable().exists():
        return ""
    return held_only_alarm(usage.free, floor)


def expire_exports(now: datetime | None = None) -> list[int]:
    """Remove evidence packages older than CRIMEBOX_EXPORT_KEEP_DAYS from the exports directory.

    The Export row (with the package's SHA-256) and its audit entries stay; packages written
    elsewhere by `export_clip --out` belong to whoever asked and are never touched.
    """
    if settings.EXPORT_KEEP_DAYS <= 0:
        return []
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.EXPORT_KEEP_DAYS)
    expired = []
    for export in Export.objects.filter(status=Export.Status.DONE, finished_at__lt=cutoff):
        if not export.path or "/" in export.path:
            continue  # not in the exports directory
        claimed = Export.objects.filter(pk=export.pk, status=Export.Status.DONE).update(
            status=Export.Status.EXPIRED
        )
        if claimed != 1:
            continue
        export.abs_path.unlink(missing_ok=True)
        log.record(
            AuditEvent.Action.RETENTION_DELETE,
            username="retention",
            target=f"export {export.pk}",
            detail={
                "package": export.path,
                "sha256": export.sha256,
                "case": export.case_number,
                "reason": f"package older than {settings.EXPORT_KEEP_DAYS} days",
            },
        )
        expired.append(export.pk)
    if expired:
        logger.info(
            "removed %d evidence package(s) older than %d days",
            len(expired),
            settings.EXPORT_KEEP_DAYS,
        )
    return expired
