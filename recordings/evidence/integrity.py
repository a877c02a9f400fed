"""Re-verification: every file re-hashed, every chain link recomputed from the stored row.

A changed file (hash mismatch), a changed row (its link no longer recomputes), a removed row
(a hole in the sequence, the next link no longer follows) and a vanished file are each named.
Written once; called by `verify_segments` and by the Django-Q schedule.
"""

import logging
from datetime import datetime
from typing import cast

from django.db import transaction
from django.utils import timezone

from cameras.models import Camera
from crimebox import outbox
from crimebox.hashing import GENESIS, sha256_file

from ..models import IntegrityCheck, Segment
from .hashing import segment_chain_hash

logger = logging.getLogger(__name__)


def _problem(segment: Segment, kind: str, detail: str) -> dict:
    return {
        "segment": segment.pk,
        "camera": segment.camera.name,
        "sequence": segment.sequence,
        "path": segment.path,
        "problem": kind,
        "detail": detail,
    }


def check_camera(camera: Camera, now: datetime, rehash: bool = True) -> tuple[int, list[dict]]:
    """Check one camera's chain and files; returns (segments checked, problems)."""
    problems = []
    prev_hash, expected, checked = GENESIS, 1, 0
    segments = (
        Segment.objects.filter(camera=camera)
        .chained()
        .select_related("camera")
        .order_by("sequence")
    )
    for segment in segments.iterator():
        checked += 1
        sequence = cast(int, segment.sequence)  # chained(): numbered and linked
        if sequence != expected:
            problems.append(
                _problem(segment, "out_of_chain", f"segments {expected}..{sequence - 1} are gone")
            )
        link = segment_chain_hash(
            camera_id=camera.pk,
            sequence=sequence,
            prev=prev_hash,
            sha256=segment.sha256,
            start=segment.start,
            end=segment.end,
            size=segment.size,
        )
        if link != segment.chain_hash:
            problems.append(
                _problem(
                    segment, "out_of_chain", "row altered, or does not follow the previous segment"
                )
            )
        prev_hash, expected = cast(str, segment.chain_hash), sequence + 1
        if rehash and segment.has_hashed_file:
            problems += _check_file(segment, now)
    return checked, problems


def _check_file(segment: Segment, now: datetime) -> list[dict]:
    path = segment.abs_path
    if not path.is_file():
        note = f"file gone at verification {now:%Y-%m-%d %H:%M}Z"
        with transaction.atomic():
            Segment.objects.filter(pk=segment.pk).update(status=Segment.Status.MISSING, note=note)
            outbox.report(outbox.SEGMENT_EVENT, segment, event="missing", at=now, note=note)
        return [_problem(segment, "missing", "file not found")]
    digest = sha256_file(path)
    if digest != segment.sha256:
        note = f"hash mismatch at verification {now:%Y-%m-%d %H:%M}Z: file is {digest}"
        with transaction.atomic():
            Segment.objects.filter(pk=segment.pk).update(status=Segment.Status.CORRUPT, note=note)
            outbox.report(outbox.SEGMENT_EVENT, segment, event="corrupt", at=now, note=note)
        return [_problem(segment, "modified", f"file hashes to {digest}")]
    if path.stat().st_size != segment.size:
        return [_problem(segment, "modified", "file size differs from the indexed size")]
    Segment.objects.filter(pk=segment.pk).update(verified_at=now)
    return []


def verify_segments(camera: Camera | None = None, now: datetime | None = None) -> IntegrityCheck:
    now = now or timezone.now()
    check = IntegrityCheck.objects.create(started_at=now, camera=camera)
    cameras = [camera] if camera else list(Camera.objects.all())
    problems, checked = [], 0
    for cam in cameras:
        n, found = check_camera(cam, now)
        checked += n
        problems += found
    check.checked, check.problems, check.ok = checked, problems, not problems
    check.finished_at = timezone.now()
    with transaction.atomic():
        check.save()
        outbox.report(outbox.INTEGRITY_CHECK, check)
    if problems:
        logger.error(
            "integrity check %d: %d problem(s) in %d segments", check.pk, len(problems), checked
        )
    else:
        logger.info("integrity check %d: %d segments verified", check.pk, checked)
    return check
