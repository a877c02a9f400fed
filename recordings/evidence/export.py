"""Evidence export: the footage of a time window as one signed, self-verifying zip.

The task: plan.py picks the runs of footage, cut.py cuts one clip per contiguous run (a gap
inside the window ends a clip, and the manifest says what every clip holds and why the gap is
there), manifest.py describes and signs, package.py writes the zip; here the Export row is
claimed, built and finished (holds, DONE, the replicated fact and the audit entry in one
transaction). The package format is in docs/evidence.md.
"""

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from crimebox import ffrun, outbox

from ..holds import place_hold
from ..models import Export
from . import jobs, prefixes
from .package import Package, write_package
from .plan import ExportError, Piece, plan
from .signing import ensure_signing_key

logger = logging.getLogger(__name__)


def run_export(export_id: int, out_dir: Path | None = None) -> str:
    """Django-Q task (and export_clip's body): build the package of one Export row.

    Any failure ends in FAILED with the reason and nothing left behind (retryable:
    jobs.retry_export); a worker killed meanwhile is noticed by jobs.reset_if_dead.
    """
    jobs.reset_if_dead(export_id)  # the task delivered again after its worker died
    if not jobs.claim(export_id):
        return "already taken"
    export = Export.objects.select_related("requested_by").get(pk=export_id)
    out_dir = Path(out_dir or settings.EXPORTS_DIR)
    package = None
    try:
        pieces = plan(list(export.cameras.all()), export.start, export.end)
        package = write_package(
            export,
            pieces,
            out_dir,
            progress=lambda p: Export.objects.filter(pk=export_id).update(progress=p),
        )
        finish(export, pieces, package, out_dir)
        prefixes.settle()  # a segment that closed while the package was written
    except Exception as e:
        if package is not None:  # built, but not recorded as done: not offered
            package.path.unlink(missing_ok=True)
        known = isinstance(e, (ExportError, ffrun.FFmpegError, OSError))
        reason = str(e) if known else f"{type(e).__name__}: {e}"
        jobs.fail(export_id, reason)
        logger.error("export %d failed: %s", export_id, reason, exc_info=not known)
        return f"failed: {reason}"
    return str(package.path)


def finish(export: Export, pieces: list[Piece], package: Package, out_dir: Path) -> None:
    """Holds, DONE, the replicated fact and the audit entry in one transaction: a crash
    leaves all of them or none, never a finished export without its audit entry."""
    path = package.path
    rel = path.name if out_dir == Path(settings.EXPORTS_DIR) else str(path)
    segments = [s for p in pieces for s in p.segments]
    with transaction.atomic():
        if export.hold_sources:
            for camera in dict.fromkeys(p.camera for p in pieces):
                place_hold(
                    camera,
                    export.start,
                    export.end,
                    f"evidence export {export.case_number}",
                    case_number=export.case_number,
                    user=export.requested_by,
                )
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.DONE,
            progress=100,
            path=rel,
            sha256=package.sha256,
            size=package.size,
            finished_at=timezone.now(),
            worker="",
            work_dir="",
        )
        export.refresh_from_db()
        prefixes.owe(export, segments, package.prefixes)
        outbox.report(
            outbox.EXPORT,
            export,
            manifest_sha256=package.manifest_sha256,
            fingerprint=ensure_signing_key().fingerprint,
            # a segment still being recorded is replicated, chained, when it closes
            segments=[f"{s.camera_id}:{s.sequence}" for s in segments if s.sequence is not None],
        )
        log.record(
            AuditEvent.Action.EXPORT,
            user=export.requested_by,
            username=None if export.requested_by else "cli",
            target=f"export {export.pk}",
            detail={
                "case": export.case_number,
                "reason": export.reason,
                "start": export.start,
                "end": export.end,
                "package": path.name,
                "cameras": [c.name for c in export.cameras.all()],
                "segments": [s.pk for s in segments],
            },
        )
