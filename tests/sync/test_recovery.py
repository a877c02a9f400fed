"""Replication under faults: dead claims, back-off after an outage, heartbeat numbers, an
unreachable datacenter, replication settings that must not stop recording."""

import io
import logging
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction

from cameras.testpattern import ensure_test_camera
from crimebox.signature import from_body
from recordings.health import health_status
from sync import heartbeat, sender
from sync.documents import box_doc
from sync.models import OutboxItem, SyncState
from tests.factories import make_camera, make_segment

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def gone_pid() -> int:
    """The pid of a process that ran and was reaped: nobody runs under it now."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def claim_as(pid: int) -> None:
    from sync import claims

    token = f"{pid:x}-{claims._boot()}-{'0' * 12}"
    OutboxItem.objects.pending().update(claim=token, claimed_at=datetime.now(UTC))


@pytest.mark.django_db
def test_rows_claimed_by_a_dead_sender_are_taken_over_at_once():
    make_segment(make_camera(), T0)
    total = OutboxItem.objects.pending().count()
    claim_as(gone_pid())
    status = call_status()
    (claimed,) = status["claimed"]
    assert claimed["rows"] == total and claimed["running"] is False
    assert "not running" in claimed["note"]
    assert len(sender.claim()) == total  # not after the 5-minute lease: now


@pytest.mark.django_db
def test_rows_claimed_by_a_running_sender_stay_its_own_and_are_said():
    make_segment(make_camera(), T0)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        claim_as(sleeper.pid)
        assert sender.claim() == []
        (claimed,) = call_status()["claimed"]
        assert claimed["running"] is True and claimed["pid"] == sleeper.pid
        assert f"pid {sleeper.pid} (running)" in sender._held()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sender.claim()  # killed (and reaped): released at once


def call_status() -> dict:
    from sync.status import sync_status

    return sync_status()


@pytest.mark.django_db
def test_backoff_is_cut_short_as_soon_as_the_datacenter_answers(rtcc, rtcc_db, monkeypatch):
    """After a long outage the back-off is at 300 s; the datacenter's return is noticed by a
    ping, not after the rest of the 300 s."""
    monkeypatch.setattr(sender, "PING_EVERY", 0)
    make_segment(make_camera(), T0)
    rtcc.stop()
    SyncState.objects.filter(pk=SyncState.get().pk).update(
        failures=8, next_attempt_at=datetime.now(UTC) + timedelta(seconds=300)
    )
    assert sender.send_pending().skipped.startswith("backing off")  # still down: no pass
    rtcc.start()
    result = sender.send_pending()
    assert result.ok and result.sent >= 2, result
    assert rtcc_db.segments.count_documents({}) == 1
    assert SyncState.get().failures == 0


@pytest.mark.django_db
def test_a_stale_state_row_never_makes_a_heartbeat_reuse_its_number(monkeypatch):
    """Read the state, a heartbeat is written, the stale row is saved back: the next heartbeat
    still takes a new number (never 'already holds a different document')."""
    stale = SyncState.get()
    heartbeat.beat(now=T0)
    monkeypatch.setattr(SyncState, "get", classmethod(lambda cls: stale))
    sender.record_outcome(sender.PassResult(attempts=1, error="down"), now=T0)
    monkeypatch.undo()
    assert heartbeat.beat(now=T0 + timedelta(seconds=60)) is not None
    beats = [from_body(i.body) for i in OutboxItem.objects.filter(kind="heartbeat")]
    assert [b["sequence"] for b in beats] == [1, 2]
    assert SyncState.get().failures == 1


@pytest.mark.django_db
def test_a_minute_without_a_heartbeat_is_said(caplog):
    heartbeat.beat(now=T0)
    with caplog.at_level(logging.WARNING, logger="sync.heartbeat"):
        heartbeat.beat(now=T0 + timedelta(seconds=60))
        assert not caplog.records
        heartbeat.beat(now=T0 + timedelta(minutes=6))
    assert "none for 300 s" in caplog.text


@pytest.mark.django_db
def test_two_workers_registering_the_box_at_once_log_no_error(monkeypatch, caplog):
    """Two tasks building the box document at different instants on a first start: the one
    that loses logs no ERROR ('box:… already holds a different document')."""
    from sync import outbox

    real = outbox.signing_key
    raced = []

    def other_worker_first():
        if not raced:  # the other worker's document commits between our check and insert
            raced.append(True)
            with transaction.atomic():
                outbox.add(box_doc(real(), first_seen=T0))
        return real()

    monkeypatch.setattr(outbox, "signing_key", other_worker_first)
    with caplog.at_level(logging.ERROR):
        sender.ensure_registration()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert OutboxItem.objects.filter(kind="box").count() == 1


@pytest.mark.django_db
def test_the_test_pattern_camera_reaches_the_datacenter(rtcc, rtcc_db):
    camera = ensure_test_camera()
    assert sender.send_pending().ok
    assert rtcc_db.cameras.find_one({"camera_id": camera.pk})["source"] == "test"
    queued = OutboxItem.objects.count()
    assert sender.send_pending().ok
    assert OutboxItem.objects.count() == queued  # nothing more once it is there


@pytest.mark.django_db
def test_sync_now_that_cannot_reach_the_datacenter_fails_in_one_line(rtcc):
    assert sender.send_pending(force=True).ok  # everything delivered: nothing pending
    rtcc.stop()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as e:
        call_command("sync_now", stdout=out, stderr=err)
    assert e.value.code == 1
    (line,) = err.getvalue().splitlines()
    assert line.startswith("FAILED: cannot reach the datacenter at mongodb://127.0.0.1:")
    assert "Topology" not in line and out.getvalue() == ""


@pytest.mark.django_db
def test_verify_remote_that_cannot_reach_the_datacenter_fails_in_one_line(rtcc):
    from django.core.management.base import CommandError

    make_segment(make_camera(), T0)
    rtcc.stop()
    with pytest.raises(CommandError) as e:
        call_command("verify_remote", stdout=io.StringIO())
    (line,) = str(e.value).splitlines()
    assert "cannot reach the datacenter" in line and "Topology" not in line


def test_a_bad_replication_setting_never_stops_the_box_from_starting(settings, tmp_path):
    """A typo in the URI or a missing URI file: a warning, replication off, recording on."""
    from django.core.checks import WARNING

    from sync.checks import check_rtcc

    settings.RTCC_TLS_CA_FILE = settings.RTCC_TLS_CERT_FILE = ""
    for uri, uri_file in [
        ("mongodb://box-17:p@ss@10.0.0.1:27017/", ""),  # an unescaped @ in the password
        ("", str(tmp_path / "missing.uri")),
    ]:
        settings.RTCC_URI, settings.RTCC_URI_FILE = uri, uri_file
        (message,) = check_rtcc()
        assert message.level == WARNING and message.id == "sync.W001"
        assert "p@ss" not in message.msg
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())  # no SystemCheckError


@pytest.mark.django_db
def test_a_bad_replication_setting_is_said_in_health(settings):
    settings.RTCC_URI, settings.RTCC_URI_FILE = "mongodb://box-17:p@ss@10.0.0.1:27017/", ""
    assert sender.send_pending(force=True).skipped.startswith("replication is off: ")
    health = health_status()
    assert any("Replication to the RTCC is off" in w for w in health["warnings"])
    assert health["replication"]["problem"] and "p@ss" not in str(health)
