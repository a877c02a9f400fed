"""Heartbeats and the outbox's bounds."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from audit import log
from audit.models import AuditEvent
from crimebox import pi
from crimebox.signature import from_body
from sync import heartbeat, outbox
from sync.models import OutboxItem, SyncLog
from tests.factories import make_camera, make_segment

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_heartbeat_has_the_fields_the_console_shows(monkeypatch, tmp_path):
    camera = make_camera(last_error="rtsp://admin:pw@10.0.0.9/ refused", latitude="41.878113")
    segment = make_segment(camera, T0)
    thermal = tmp_path / "sys/class/thermal/thermal_zone0/temp"
    throttled = tmp_path / "sys/devices/platform/soc/soc:firmware/get_throttled"
    for path, text in ((thermal, "48312\n"), (throttled, "50005\n")):
        path.parent.mkdir(parents=True)
        path.write_text(text)
    monkeypatch.setattr(pi, "ROOT", tmp_path)
    heartbeat.beat(now=T0)
    heartbeat.beat(now=T0 + timedelta(seconds=60))
    first, second = (from_body(i.body) for i in OutboxItem.objects.filter(kind="heartbeat"))
    assert (first["sequence"], second["sequence"]) == (1, 2) and first["_id"] != second["_id"]
    assert first["time"] == T0 and first["boot_id"] and first["uptime_s"] > 0
    assert first["memory"]["total"] > 0 and first["disk"]["free"] > 0
    assert len(first["load_centi"]) == 3
    assert first["pi"]["cpu_temp_millic"] == 48312
    assert first["pi"]["under_voltage"] is True and first["pi"]["throttled"] is True
    assert first["pi"]["under_voltage_since_boot"] is True
    (cam,) = first["cameras"]
    assert cam["chain_sequence"] == 1 and cam["chain_hash"] == segment.chain_hash
    assert cam["latitude"] == "41.878113" and "pw" not in cam["last_error"]
    assert first["outbox"]["pending"] >= 1 and first["software"].startswith("crimebox ")


@pytest.mark.django_db
def test_pi_values_are_null_where_the_machine_has_none(monkeypatch, tmp_path):
    assert set(heartbeat.pi_health(root=tmp_path).values()) == {None}


@pytest.mark.django_db
def test_outbox_bounds_drop_old_heartbeats_never_facts(settings):
    now = datetime.now(UTC)
    for i in range(5):
        heartbeat.beat(now=now - timedelta(minutes=5 - i))
    with transaction.atomic():
        log.record(AuditEvent.Action.SYSTEM, username="x")
    sent = OutboxItem.objects.filter(kind="audit")
    sent.update(state=OutboxItem.State.SENT, created_at=now - timedelta(days=8))
    old = OutboxItem.objects.filter(kind="heartbeat").order_by("id").first()
    OutboxItem.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=8))
    settings.OUTBOX_MAX_MB = 0  # over the limit: pending heartbeats go, oldest first
    with transaction.atomic():
        log.record(AuditEvent.Action.SYSTEM, username="y")  # a pending fact
    SyncLog.objects.create(result="ok")
    SyncLog.objects.update(started_at=now - timedelta(days=31))
    beats = list(OutboxItem.objects.filter(kind="heartbeat").values_list("pk", flat=True))
    removed = outbox.prune(now=now)
    assert not SyncLog.objects.exists()
    assert removed == {"sent": 1, "old_heartbeats": 1, "dropped_heartbeats": 4}
    kinds = list(OutboxItem.objects.values_list("kind", flat=True))
    assert kinds == ["audit", "dropped", "dropped"]
    assert set(OutboxItem.objects.values_list("state", flat=True)) == {OutboxItem.State.PENDING}
    # The box declares the numbers of the undelivered heartbeats it dropped (docs/sync.md).
    old_drop, over_drop = (from_body(i.body) for i in OutboxItem.objects.filter(kind="dropped"))
    assert (
        old_drop["numbers"] == [{"first": beats[0], "last": beats[0]}]
        and old_drop["dropped_kind"] == "heartbeat"
    )
    assert (
        over_drop["numbers"] == [{"first": beats[1], "last": beats[4]}] and over_drop["count"] == 4
    )


@pytest.mark.django_db
def test_zerotier_status_when_zerotier_cli_is_present(monkeypatch, tmp_path):
    cli = tmp_path / "zerotier-cli"
    cli.write_text(
        "#!/bin/sh\n"
        'if [ "$2" = info ]; then '
        'echo \'{"address":"a1b2c3d4e5","online":true,"version":"1.14.2"}\'; '
        'else echo \'[{"id":"8056c2e21c000001","status":"OK",'
        '"assignedAddresses":["10.147.17.23/24"]}]\'; fi\n'
    )
    cli.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    zt = heartbeat.zerotier()
    assert zt["address"] == "a1b2c3d4e5" and zt["online"] is True
    assert zt["networks"] == [
        {"id": "8056c2e21c000001", "status": "OK", "addresses": ["10.147.17.23/24"]}
    ]
    monkeypatch.setenv("PATH", "/nonexistent")
    assert heartbeat.zerotier() is None


@pytest.mark.django_db
def test_the_box_registration_outlives_pruning_so_it_is_never_rebuilt_differently():
    from sync import sender

    sender.ensure_box_document()
    box = OutboxItem.objects.get(kind="box")
    OutboxItem.objects.update(state=OutboxItem.State.SENT)
    OutboxItem.objects.update(created_at=datetime.now(UTC) - timedelta(days=30))
    outbox.prune()
    assert list(OutboxItem.objects.values_list("kind", flat=True)) == ["box"]  # only it stays
    sender.ensure_box_document()
    assert OutboxItem.objects.get(kind="box").body == box.body


@pytest.mark.django_db
def test_sync_status_shows_the_box_and_its_key_fingerprint_for_enrolment():
    """Read out on site when the RTCC console enrols the box (rtcc_enrol BOX FINGERPRINT)."""
    from io import StringIO

    from django.core.management import call_command

    from recordings.evidence.signing import ensure_signing_key

    out = StringIO()
    call_command("sync_status", stdout=out)
    expected = f"box: test-box  key fingerprint: {ensure_signing_key().fingerprint}"
    assert out.getvalue().splitlines()[0] == expected
