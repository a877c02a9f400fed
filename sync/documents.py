"""The documents the box sends to the RTCC, one builder per kind of fact (docs/sync.md).

Every document has a deterministic `_id` (box id, kind, natural key), the box id, a schema
version, its kind, UTC dates of millisecond precision, no floating-point numbers (durations in
milliseconds, frame rates in thousandths) and, added by `signature.sign`, the box's signature.
"""

import hashlib
import json
from datetime import datetime
from typing import Any

from django.conf import settings

from audit.models import AuditEvent
from cameras.models import Camera, ClockReading
from cameras.provenance import provenance as camera_provenance
from crimebox import outbox, retrieval
from crimebox.keys import SigningKey
from crimebox.signature import ms, ms_or_none
from crimebox.utc import utc_iso
from recordings.models import Export, Gap, IntegrityCheck, PrefixCheck, Segment

from .models import OutboxItem

SCHEMA = 2  # 2: every document carries `n`, the box's document number (docs/sync.md)

# kind -> collection at the datacenter
COLLECTIONS = {
    "box": "boxes",
    outbox.SEGMENT: "segments",
    outbox.SEGMENT_EVENT: "segment_events",
    outbox.GAP_OPENED: "gaps",
    outbox.GAP_CLOSED: "gaps",
    outbox.CAMERA: "cameras",
    outbox.CAMERA_CLOCK: "camera_clocks",
    outbox.AUDIT: "audit",
    outbox.EXPORT: "exports",
    outbox.INTEGRITY_CHECK: "integrity_checks",
    outbox.PREFIX_CHECK: "prefix_checks",
    "heartbeat": "heartbeats",
    "dropped": "dropped",
    retrieval.ANSWER_KIND: retrieval.RETRIEVALS,  # the box's answers to RTCC clip requests
}


def milli(value: float | None) -> int | None:
    return None if value is None else round(value * 1000)


def base(kind: str, key: str, **fields: Any) -> dict:
    box = settings.BOX_ID
    return {"_id": f"{box}:{kind}:{key}", "box": box, "schema": SCHEMA, "kind": kind, **fields}


def segment_key(camera_id: int, sequence: int) -> str:
    return f"{camera_id}:{sequence}"


def segment_doc(segment: Segment) -> dict:
    assert segment.sequence is not None  # closed segments only
    prev = segment.prev_chain_hash()
    return base(
        outbox.SEGMENT,
        segment_key(segment.camera_id, segment.sequence),
        camera_id=segment.camera_id,
        camera=segment.camera.name,
        sequence=segment.sequence,
        # Dates for queries; the exact microsecond times the chain hash covers beside them.
        start=ms(segment.start),
        end=ms(segment.end),
        start_exact=utc_iso(segment.start),
        end_exact=utc_iso(segment.end),
        duration_ms=milli(segment.duration),
        size=segment.size,
        codec=segment.codec,
        width=segment.width,
        height=segment.height,
        fps_milli=milli(segment.fps),
        frames=segment.frames,
        has_audio=segment.has_audio,
        file=segment.path,
        sha256=segment.sha256,
        prev_chain_hash=prev,
        chain_hash=segment.chain_hash,
        status=segment.status,
        on_hold=segment.on_hold,  # closed inside an active hold; later changes are events
        note=segment.note,
        media_warning=segment.media_warning,
        hashed_at=ms_or_none(segment.hashed_at),
        clock_synced=segment.clock_synced,
    )


def segment_event_doc(segment: Segment, *, event: str, at: datetime, note: str = "") -> dict:
    assert segment.sequence is not None  # facts about chained segments only
    at = ms(at)
    return base(
        outbox.SEGMENT_EVENT,
        f"{segment_key(segment.camera_id, segment.sequence)}:{event}:{at:%Y%m%dT%H%M%S%fZ}",
        camera_id=segment.camera_id,
        camera=segment.camera.name,
        sequence=segment.sequence,
        segment=f"{settings.BOX_ID}:{outbox.SEGMENT}:"
        + segment_key(segment.camera_id, segment.sequence),
        sha256=segment.sha256,
        event=event,
        at=at,
        note=note,
    )


def gap_opened_doc(gap: Gap) -> dict:
    return base(
        outbox.GAP_OPENED,
        str(gap.pk),
        gap=gap.pk,
        camera_id=gap.camera_id,
        camera=gap.camera.name,
        start=ms(gap.start),
        end=None,
        cause=gap.cause,
        cause_text=gap.get_cause_display(),
        detail=gap.detail,
    )


def gap_closed_doc(gap: Gap) -> dict:
    assert gap.end is not None
    end = ms(gap.end)
    doc = gap_opened_doc(gap)
    return {
        **doc,
        **base(outbox.GAP_CLOSED, f"{gap.pk}:{end:%Y%m%dT%H%M%S%fZ}"),
        "end": end,
        "duration_ms": milli((gap.end - gap.start).total_seconds()),
    }


def camera_doc(camera: Camera) -> dict:
    """One document per change of state, a change back to an earlier state included.

    `revision` is the provenance digest. The _id is `<camera id>:<revision>` the first time the
    box queues that state and `<camera id>:<revision>:<k>` the k-th time the camera returns to
    it (A → B → A must reach the console, which applies these in document-number order). The
    same state as the camera's last queued document is that document again (same _id, same
    content), so a re-save or a re-report that changed nothing writes nothing. Callers build it
    inside the transaction that stores it (IMMEDIATE: no other writer between read and write).
    """
    provenance = camera_provenance(camera)  # the evidence manifest's too
    digest = hashlib.sha256(json.dumps(provenance, sort_keys=True).encode()).hexdigest()[:16]
    return base(outbox.CAMERA, camera_key(camera.pk, digest), revision=digest, **provenance)


def camera_key(camera_id: int, digest: str) -> str:
    """The key of the camera's document for state `digest`, from its earlier ones in the
    outbox (never pruned: `outbox.prune`)."""
    prefix = f"{settings.BOX_ID}:{outbox.CAMERA}:{camera_id}:"
    # A range on the unique doc_id index (";" follows ":"); SQLite's LIKE would scan the table.
    earlier = [  # "<revision>" or "<revision>:<k>", the last queued first
        doc_id[len(prefix) :]
        for doc_id in OutboxItem.objects.filter(doc_id__gte=prefix, doc_id__lt=prefix[:-1] + ";")
        .order_by("-pk")
        .values_list("doc_id", flat=True)
    ]
    if earlier and earlier[0].split(":")[0] == digest:
        return f"{camera_id}:{earlier[0]}"  # unchanged since the last one: that document again
    returns = sum(1 for key in earlier if key.split(":")[0] == digest)
    return f"{camera_id}:{digest}" + (f":{returns}" if returns else "")


def camera_clock_doc(reading: ClockReading) -> dict:
    return base(
        outbox.CAMERA_CLOCK,
        str(reading.pk),
        camera_id=reading.camera_id,
        measured_at=ms(reading.measured_at),
        camera_time=ms(reading.camera_time),
        offset_ms=milli(reading.offset_seconds),
        uncertainty_ms=milli(reading.uncertainty_seconds),
        round_trip_ms=milli(reading.round_trip_seconds),
    )


def audit_doc(event: AuditEvent) -> dict:
    return base(
        outbox.AUDIT,
        str(event.sequence),
        sequence=event.sequence,
        at=ms(event.at),
        at_exact=utc_iso(event.at),
        username=event.username,
        client_ip=event.client_ip,
        action=event.action,
        camera_id=event.camera_id,
        camera=event.camera_name,
        target=event.target,
        detail=_no_floats(event.detail),
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


def export_doc(
    export: Export, *, manifest_sha256: str, fingerprint: str, segments: list[str]
) -> dict:
    return base(
        outbox.EXPORT,
        str(export.pk),
        export=export.pk,
        case_number=export.case_number,
        reason=export.reason,
        requested_by=export.requested_by.get_username() if export.requested_by else "cli",
        start=ms(export.start),
        end=ms(export.end),
        cameras=[c.name for c in export.cameras.all()],
        package=export.path.rsplit("/", 1)[-1],
        package_sha256=export.sha256,
        size=export.size,
        manifest_sha256=manifest_sha256,
        signing_key_fingerprint=fingerprint,
        segments=[f"{settings.BOX_ID}:{outbox.SEGMENT}:{k}" for k in segments],
        finished_at=ms_or_none(export.finished_at),
    )


def integrity_check_doc(check: IntegrityCheck) -> dict:
    return base(
        outbox.INTEGRITY_CHECK,
        str(check.pk),
        check=check.pk,
        started_at=ms(check.started_at),
        finished_at=ms_or_none(check.finished_at),
        camera=check.camera.name if check.camera else None,
        checked=check.checked,
        ok=check.ok,
        problems=_no_floats(check.problems),
    )


def prefix_key(segment_id: int, end_byte: int, sha256: str) -> str:
    """What a package's `recorded_prefix` source names (its segment id, end_byte and SHA-256),
    so a verifier finds the check of exactly that prefix by its _id."""
    return f"{segment_id}:{end_byte}:{sha256}"


def prefix_check_doc(check: PrefixCheck) -> dict:
    segment = check.segment
    assert segment.sequence is not None  # checked once the segment is closed and chained
    return base(
        outbox.PREFIX_CHECK,
        prefix_key(segment.pk, check.end_byte, check.sha256),
        export=check.export_id,
        camera_id=segment.camera_id,
        camera=segment.camera.name,
        sequence=segment.sequence,
        segment=f"{settings.BOX_ID}:{outbox.SEGMENT}:"
        + segment_key(segment.camera_id, segment.sequence),
        segment_sha256=segment.sha256,
        path=check.path,
        first_byte=0,
        end_byte=check.end_byte,
        prefix_sha256=check.sha256,
        found_sha256=check.found_sha256,
        result=check.result,
        note=check.note,
        checked_at=ms_or_none(check.checked_at),
    )


def box_doc(key: SigningKey, *, first_seen: datetime) -> dict:
    import crimebox

    return base(
        "box",
        key.fingerprint,
        public_key_pem=key.public_pem.decode(),
        fingerprint=key.fingerprint,
        software=f"crimebox {crimebox.__version__}",
        first_seen=ms(first_seen),
    )


def number_ranges(numbers: list[int]) -> list[dict]:
    """[3, 4, 5, 9] -> [{first: 3, last: 5}, {first: 9, last: 9}] (objects: FerretDB stores no
    nested arrays)."""
    ranges: list[dict] = []
    for n in sorted(numbers):
        if ranges and n == ranges[-1]["last"] + 1:
            ranges[-1]["last"] = n
        else:
            ranges.append({"first": n, "last": n})
    return ranges


def dropped_doc(numbers: list[int], *, at: datetime, reason: str) -> dict:
    """The box's own statement that these document numbers (undelivered heartbeats it pruned)
    will never arrive, so the datacenter can tell them from documents lost or withheld."""
    ranges = number_ranges(numbers)
    return base(
        "dropped",
        f"{ranges[0]['first']}-{ranges[-1]['last']}:{ms(at):%Y%m%dT%H%M%S%fZ}",
        dropped_kind="heartbeat",
        numbers=ranges,
        count=len(numbers),
        reason=reason,
        at=ms(at),
    )


def _no_floats(value: Any) -> Any:
    """Free-form details (audit, check problems): floats become their text."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _no_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_floats(v) for v in value]
    return value
