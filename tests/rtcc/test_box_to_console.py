"""The real box's documents (sync/) through the real sender into the ledger, ingested and
verified by the console: the two sides agree on schema 2, signatures and chains."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from audit import log
from audit.models import AuditEvent
from crimebox import outbox as crimebox_outbox
from recordings import gaps, holds
from recordings.evidence.signing import ensure_signing_key
from rtcc import ingest
from rtcc.models import Box, Camera, GapRecord, IntegrityProblem, MissingRange, SegmentRecord
from rtcc.trust import enrol
from sync import heartbeat, outbox, remote, sender
from sync.models import OutboxItem
from tests.factories import make_camera, make_segments

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_what_a_box_sends_the_console_ingests_verifies_and_shows(rtcc_ledger, settings):
    remote.create_collections(settings.RTCC_URI, settings.RTCC_DB)
    camera = make_camera("North", latitude="41.878113", longitude="-87.629799")
    make_segments(camera, T0, 3)
    gaps.open_gap(camera, "unreachable", "refused", T0 + timedelta(minutes=1))
    with transaction.atomic():
        log.record(AuditEvent.Action.VIEW, username="zoë", camera=camera)
    holds.place_hold(camera, T0, T0 + timedelta(seconds=8), "case 9")
    heartbeat.beat()
    assert sender.send_pending().ok
    ingest.tick()
    box = Box.objects.get(box_id=settings.BOX_ID)
    fingerprint = ensure_signing_key().fingerprint
    assert box.enrolment == Box.Enrolment.PENDING and box.keys.get().fingerprint == fingerprint
    enrol(settings.BOX_ID, fingerprint)
    ingest.tick()
    assert not IntegrityProblem.objects.exists(), list(IntegrityProblem.objects.values())
    assert list(SegmentRecord.objects.values_list("verification", flat=True)) == ["verified"] * 3
    assert SegmentRecord.objects.filter(on_hold=True).count() == 2
    assert GapRecord.objects.get().cause == "unreachable"
    assert str(Camera.objects.get().latitude) == "41.878113"  # from the heartbeat
    with transaction.atomic():
        camera.location, camera.model = "Main St & 5th", "X1"
        camera.save()
        crimebox_outbox.report(crimebox_outbox.CAMERA, camera)
    assert sender.send_pending().ok
    ingest.tick()
    shown = Camera.objects.get()
    assert (shown.location, shown.model, shown.revision != "") == ("Main St & 5th", "X1", True)
    out = StringIO()
    call_command("rtcc_verify", "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"]


@pytest.mark.django_db
def test_heartbeats_the_box_dropped_undelivered_are_declared_not_alerted(rtcc_ledger, settings):
    remote.create_collections(settings.RTCC_URI, settings.RTCC_DB)
    sender.ensure_box_document()
    for _ in range(3):
        heartbeat.beat()
    old = datetime.now(UTC) - timedelta(days=settings.HEARTBEAT_KEEP_DAYS + 1)
    OutboxItem.objects.filter(kind="heartbeat").update(created_at=old)
    outbox.prune()
    heartbeat.beat()
    assert sender.send_pending().ok
    ingest.tick()
    enrol(settings.BOX_ID, ensure_signing_key().fingerprint)
    ingest.tick()
    later = datetime.now(UTC) + timedelta(minutes=settings.RTCC_HOLE_GRACE_MINUTES + 1)
    ingest.tick(now=later)
    assert list(MissingRange.objects.values_list("state", flat=True)) == ["declared"]
    assert not IntegrityProblem.objects.exists()
    out = StringIO()
    call_command("rtcc_verify", stdout=out)
    assert "OK" in out.getvalue()
