"""The prefixes of open segments that exports relied on, checked once the segments close.

An export of footage still being recorded states the SHA-256 of bytes [0, end_byte) of the
open file (recording.py). The export's transaction leaves a PrefixCheck owed for each; when
the segment is indexed (or at recorder start-up, for one closed while nobody settled it) the
closed, hashed file's first end_byte bytes are hashed again and the result is replicated as a
signed `prefix_check` document: the datacenter can then say the exported bytes are the start
of a segment whose SHA-256 it holds, without the file (docs/evidence.md).
"""

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from crimebox import outbox

from ..models import Export, PrefixCheck, Segment
from .recording import prefix_of

logger = logging.getLogger(__name__)


def owe(export: Export, segments: list[Segment], prefixes: dict[int, dict[str, Any]]) -> None:
    """Inside the transaction that marks the export done: one owed check per prefix."""
    for segment in segments:
        prefix = prefixes.get(segment.pk)
        if prefix is not None:
            PrefixCheck.objects.get_or_create(
                segment=segment,
                end_byte=prefix["end_byte"],
                sha256=prefix["sha256"],
                defaults={"export": export, "path": segment.path},
            )


def settle(segment: Segment | None = None) -> list[PrefixCheck]:
    """Check every owed prefix whose segment has closed (of `segment` only, when given).

    The hashing happens outside any transaction; each result is written, replicated and (for
    a mismatch) audited in one short transaction, once: a second caller finds it settled.
    """
    owed = PrefixCheck.objects.filter(
        result=PrefixCheck.Result.OWED, segment__sequence__isnull=False
    ).select_related("segment__camera")
    if segment is not None:
        owed = owed.filter(segment=segment)
    settled = []
    for check in owed:
        try:
            found = prefix_of(check.segment.abs_path, check.end_byte)["sha256"]
        except OSError as e:  # gone, or shorter than the prefix: it cannot hold those bytes
            found, note = "", f"the closed file cannot be read to byte {check.end_byte}: {e}"
        else:
            note = "" if found == check.sha256 else "the closed file begins with other bytes"
        if _record(check, found, note):
            settled.append(check)
    return settled


def _record(check: PrefixCheck, found: str, note: str) -> bool:
    ok = found == check.sha256
    result = PrefixCheck.Result.OK if ok else PrefixCheck.Result.MISMATCH
    with transaction.atomic():
        updated = PrefixCheck.objects.filter(pk=check.pk, result=PrefixCheck.Result.OWED).update(
            result=result, found_sha256=found, note=note, checked_at=timezone.now()
        )
        if not updated:
            return False
        check.refresh_from_db()
        outbox.report(outbox.PREFIX_CHECK, check)
        if not ok:
            log.record(
                AuditEvent.Action.SYSTEM,
                username="system",
                camera=check.segment.camera,
                target=f"segment {check.segment_id}",
                detail={
                    "event": "exported prefix mismatch",
                    "export": check.export_id,
                    "path": check.path,
                    "end_byte": check.end_byte,
                    "exported_sha256": check.sha256,
                    "found_sha256": found,
                    "note": note,
                },
            )
    if ok:
        logger.info(
            "export %d: prefix of %s proved by its closed file", check.export_id, check.path
        )
    else:
        logger.error(
            "export %d: the first %d bytes of %s are not the ones exported (%s)",
            check.export_id,
            check.end_byte,
            check.path,
            note,
        )
    return True
