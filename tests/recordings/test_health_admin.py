import io
import time
from collections import namedtuple
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recordings import heartbeat
from recordings.health import health_status
from recordings.holds import place_hold
from recordings.models import Gap, Segment
from tests.factories import make_camera, make_segments

Usage = namedtuple("Usage", "total used free")
T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def recorder_alive(monkeypatch, settings, tmp_path):
    """A running recorder's heartbeat and a synchronised clock: what a healthy box has."""
    heartbeat.beat(time.time())
    live_alive(settings, tmp_path)
    monkeypatch.setattr("recordings.health.clock_synchronized", lambda: True)


def live_alive(settings, tmp_path) -> None:
    """The live view service's heartbeat (live/status.py adds a warning without it)."""
    from live import state

    settings.LIVE_DIR = str(tmp_path / "live")
    state.beat(time.time())


@pytest.fixture
def admin_client_(db, client):
    user = User.objects.create_superuser("boss", "b@example.org", "pw-boss-123")
    client.force_login(user)
    return client


def test_health_is_public_but_terse(client, db, recorder_alive):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_details_for_staff(admin_client_, recorder_alive, settings):
    import hashlib
    import shutil

    from cryptography.hazmat.primitives import serialization

    make_camera("North")
    body = admin_client_.get("/health").json()
    assert body["status"] == "ok"
    assert body["cameras"][0]["name"] == "North"
    assert body["disk"]["free"] > 0
    assert body["signing_key_fingerprint"]
    # The disk is the recordings directory's, as the kernel reports it now.
    usage = shutil.disk_usage(settings.RECORDINGS_DIR)
    assert body["disk"]["total"] == usage.total
    assert abs(body["disk"]["free"] - usage.free) < 500e6  # other writers meanwhile
    # The fingerprint is that of the key on disk: SHA-256 of its raw public key.
    pem = (settings.KEYS_DIR / "box_signing_key.pem").read_bytes()
    public = serialization.load_pem_private_key(pem, password=None).public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert body["signing_key_fingerprint"] == hashlib.sha256(raw).hexdigest()


def test_health_disk_numbers_and_floor(admin_client_, recorder_alive, monkeypatch, settings):
    settings.MIN_FREE_GB, settings.MIN_FREE_PERCENT = 5, 10
    monkeypatch.setattr("shutil.disk_usage", lambda p: Usage(400e9, 150e9, 250e9))
    body = admin_client_.get("/health").json()
    # The floor is the larger of MIN_FREE_GB and MIN_FREE_PERCENT of the disk.
    assert body["disk"] == {"total": 400e9, "free": 250e9, "floor": 40e9}
    settings.MIN_FREE_PERCENT = 1
    assert admin_client_.get("/health").json()["disk"]["floor"] == 5e9


def test_health_critical_when_only_held_footage_is_left(client, db, monkeypatch, settings):
    camera = make_camera("North")
    make_segments(camera, T0, 2, seconds=2)
    place_hold(camera, T0, T0 + timedelta(minutes=1), "case 1")
    monkeypatch.setattr("shutil.disk_usage", lambda p: Usage(100, 100, 0))
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "critical"}


def test_admin_index_shows_the_status_panel(admin_client_):
    response = admin_client_.get(reverse("admin:index"))
    assert response.status_code == 200
    assert b'id="box-status"' in response.content
    assert b"signed with the box key" in response.content
    assert b"the RTCC console enrols box test-box by this fingerprint" in response.content
    assert b"The recorder has not reported since the box started." in response.content
    heartbeat.beat(time.time())
    assert b"The recorder last reported" in admin_client_.get(reverse("admin:index")).content


def test_segment_changelist_filters_without_a_full_count(admin_client_):
    camera = make_camera("North")
    make_segments(camera, T0, 3, seconds=2)
    url = reverse("admin:recordings_segment_changelist")
    for query in [
        "",
        f"?camera__id__exact={camera.pk}",
        "?status__exact=complete",
        "?start__year=2026&start__month=11&start__day=23",
        "?on_hold__exact=0",
    ]:
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_.get(url + query)
        assert response.status_code == 200, query
        full_counts = [
            q["sql"]
            for q in ctx.captured_queries
            if "COUNT(" in q["sql"] and "LIMIT" not in q["sql"]
        ]
        assert full_counts == [], query
        assert len(ctx.captured_queries) < 20
    # Segments 2 s apart are told apart: times to the second, with the zone.
    page = admin_client_.get(url, {"o": "1"}).content.decode()  # ordered by start
    assert "2026-11-23 14:00:02 UTC" in page and "2026-11-23 14:00:04 UTC" in page


def test_segments_are_read_only_even_for_superusers(admin_client_):
    camera = make_camera("North")
    seg = make_segments(camera, T0, 1)[0]
    assert admin_client_.get(reverse("admin:recordings_segment_add")).status_code == 403
    delete = reverse("admin:recordings_segment_delete", args=[seg.pk])
    assert admin_client_.post(delete, {"post": "yes"}).status_code == 403
    assert Segment.objects.filter(pk=seg.pk).exists()
    change = reverse("admin:recordings_segment_change", args=[seg.pk])
    response = admin_client_.post(change, {"sha256": "0" * 64})
    assert response.status_code == 403
    seg.refresh_from_db()
    assert seg.sha256 != "0" * 64


def test_hold_action_asks_reason_then_holds(admin_client_):
    camera = make_camera("North")
    segs = make_segments(camera, T0, 3, seconds=2)
    url = reverse("admin:recordings_segment_changelist")
    data = {"action": "place_hold_action", "_selected_action": [segs[0].pk, segs[1].pk]}
    response = admin_client_.post(url, data)
    assert b"Reason (required)" in response.content
    assert not Segment.objects.filter(on_hold=True).exists()
    admin_client_.post(url, {**data, "reason": "Case 26-77 robbery"})
    held = set(Segment.objects.filter(on_hold=True).values_list("pk", flat=True))
    assert held == {segs[0].pk, segs[1].pk}


def test_gap_admin_lists_causes(admin_client_):
    camera = make_camera("North")
    Gap.objects.create(
        camera=camera,
        start=T0,
        end=T0 + timedelta(seconds=9),
        cause=Gap.Cause.CAMERA_UNREACHABLE,
        detail="Connection refused",
    )
    response = admin_client_.get(reverse("admin:recordings_gap_changelist"))
    assert b"Camera unreachable" in response.content and b">9 s</td>" in response.content


def test_schedules_are_idempotent(db):
    from django.core.management import call_command
    from django_q.models import Schedule

    from cameras import tasks as camera_tasks
    from recordings import tasks as recording_tasks

    names = [*camera_tasks.SCHEDULES, *recording_tasks.SCHEDULES]
    for tasks in (camera_tasks, recording_tasks):
        assert tasks.ensure_schedules() == list(tasks.SCHEDULES)
        tasks.ensure_schedules()
    ours = Schedule.objects.filter(name__in=names)  # sync adds its own after migrate
    assert ours.count() == len(names)
    call_command("init_box", "--no-test-pattern", stdout=io.StringIO())
    assert ours.count() == len(names)
    assert set(ours.values_list("func", flat=True)) == {
        "recordings.tasks.prune_task",
        "recordings.tasks.verify_task",
        "recordings.tasks.close_viewings_task",
        "cameras.tasks.clear_sessions_task",
        "cameras.tasks.measure_clocks_task",
        "cameras.tasks.reprobe_task",
    }


def test_clear_sessions_task_removes_expired_sessions(db):
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from cameras.tasks import clear_sessions_task

    old, fresh = SessionStore(), SessionStore()
    for store in (old, fresh):
        store["cameras:onvif_add"] = {"data": {"password": "x"}}
        store.create()
    Session.objects.filter(session_key=old.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    clear_sessions_task()
    assert list(Session.objects.values_list("session_key", flat=True)) == [fresh.session_key]


def test_missing_files_are_a_warning(admin_client_, recorder_alive):
    camera = make_camera("North")
    seg = make_segments(camera, T0, 1)[0]
    Segment.objects.filter(pk=seg.pk).update(status=Segment.Status.MISSING)
    body = admin_client_.get("/health").json()
    assert body["status"] == "warning"
    assert "1 segment file(s) are missing" in body["warnings"][0]


def test_recorder_down_is_critical_when_cameras_are_enabled(db, monkeypatch, settings, tmp_path):
    monkeypatch.setattr("recordings.health.clock_synchronized", lambda: True)
    live_alive(settings, tmp_path)
    camera = make_camera("North")
    health = health_status()
    assert health["status"] == "critical"
    assert "recorder is not running" in health["alarms"][0]
    heartbeat.beat(time.time() - 300)  # a recorder that died five minutes ago
    assert "last seen" in health_status()["alarms"][0]
    heartbeat.beat(time.time())
    assert health_status()["status"] == "ok"
    camera.is_enabled = False
    camera.save()
    heartbeat.stop()
    assert health_status()["status"] == "ok"  # nothing to record, nothing missing


def test_unsynchronised_clock_is_a_warning(db, recorder_alive, monkeypatch):
    monkeypatch.setattr("recordings.health.clock_synchronized", lambda: False)
    health = health_status()
    assert health["status"] == "warning" and "clock is not synchronised" in health["warnings"][0]


def test_recording_camera_that_closes_no_segment_is_a_warning(db, recorder_alive, settings):
    settings.SEGMENT_SECONDS = 60
    camera = make_camera("North", status="recording")
    now = datetime.now(UTC)
    camera.last_segment_at = now - timedelta(seconds=100)
    camera.save()
    assert health_status(now)["status"] == "ok"
    camera.last_segment_at = now - timedelta(seconds=200)  # a 60 s segment is long overdue
    camera.save()
    assert "closed no segment" in health_status(now)["warnings"][0]
    Segment.objects.create(  # a new file opened since: still fine
        camera=camera,
        start=now - timedelta(seconds=30),
        end=now - timedelta(seconds=30),
        duration=0,
        size=0,
        path="cam/x.mp4",
        status=Segment.Status.RECORDING,
    )
    assert health_status(now)["status"] == "ok"
