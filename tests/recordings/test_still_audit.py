"""Stills are footage: thumbnails, camera and live stills are audited, one entry per
user, camera and minute."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from tests.factories import make_camera, make_segments

T0 = datetime(2026, 11, 23, 14, tzinfo=UTC)


def stills():
    return list(AuditEvent.objects.filter(action=AuditEvent.Action.STILL).order_by("sequence"))


@pytest.fixture
def watcher(db):
    client = Client()
    client.force_login(User.objects.create_superuser("chief", password="x-long-pass-phrase"))
    return client


def test_thumbnails_and_stills_are_audited_once_a_minute(watcher, monkeypatch):
    camera = make_camera("North")
    other = make_camera("South")
    [a, b] = make_segments(camera, T0, 2)
    [c] = make_segments(other, T0, 1)
    for seg in (a, b, a):
        assert watcher.get(reverse("recordings:thumb", args=[seg.pk])).status_code == 200
    assert watcher.get(reverse("console:still", args=[camera.pk])).status_code == 200
    [entry] = stills()
    assert entry.username == "chief" and entry.camera_id == camera.pk
    assert entry.detail == {"still": "thumbnail", "segment": a.pk}
    watcher.get(reverse("recordings:thumb", args=[c.pk]))  # another camera: its own entry
    assert [e.camera_id for e in stills()] == [camera.pk, other.pk]

    later = timezone.now() + timedelta(minutes=1)
    monkeypatch.setattr(log.timezone, "now", lambda: later)
    watcher.get(reverse("console:still", args=[camera.pk]))  # the next minute: a new entry
    assert [e.detail["still"] for e in stills()] == ["thumbnail", "thumbnail", "camera still"]
    assert log.run_check().ok


def test_live_still_is_audited(watcher, monkeypatch):
    camera = make_camera("North")
    monkeypatch.setattr("live.views.still", lambda cam: b"\xff\xd8jpeg")
    assert watcher.get(reverse("live:still", args=[camera.pk])).status_code == 200
    assert watcher.get(reverse("live:still", args=[camera.pk])).status_code == 200
    [entry] = stills()
    assert entry.detail == {"still": "live still"} and entry.camera_id == camera.pk
