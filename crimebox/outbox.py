"""The outbox API of the lower layers: report a fact inside the transaction that writes it.

`recordings`, `cameras` and `audit` call `report()` inside the `transaction.atomic()` block that
writes the fact; the replication app (`sync`, the top layer) receives the signal in the same
transaction and writes the fact's signed document to its outbox table, so a crash can never leave
a fact without its document or a document without its fact (docs/sync.md). The lower layers never
import `sync`: they only name the fact.
"""

from collections.abc import Sequence
from typing import Any

from django.db import models, transaction
from django.dispatch import Signal

# sender: the kind of fact (a string below); obj: the row; extra: what the row does not hold.
fact = Signal()
# The same for many rows of one kind at once (objs): a hold over a year of footage changes
# 35,000 segments in one transaction, which must stay short (the recorder writes too).
facts = Signal()

SEGMENT = "segment"  # a segment closed (complete or partial): obj is the Segment
SEGMENT_EVENT = "segment_event"  # later facts: event=missing|corrupt|deleted|hold_on|hold_off
GAP_OPENED = "gap_opened"
GAP_CLOSED = "gap_closed"
CAMERA = "camera"  # added, changed or re-probed: obj is the Camera
CAMERA_CLOCK = "camera_clock"  # a camera's clock was measured: obj is the ClockReading
AUDIT = "audit"  # obj is the AuditEvent
EXPORT = "export"  # an evidence package was made: obj is the Export
INTEGRITY_CHECK = "integrity_check"  # obj is the IntegrityCheck
# an exported prefix of an open segment, checked against the closed file: obj is the PrefixCheck
PREFIX_CHECK = "prefix_check"


def report(kind: str, obj: models.Model, **extra: Any) -> None:
    """Hand one fact to the outbox. Must run inside the fact's own transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"outbox: {kind} reported outside its transaction")
    fact.send(sender=kind, obj=obj, **extra)


def report_many(kind: str, objs: Sequence[models.Model], **extra: Any) -> None:
    """`report` for many rows of one kind, in one go. Must run inside their transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"outbox: {kind} reported outside its transaction")
    if objs:
        facts.send(sender=kind, objs=objs, **extra)
