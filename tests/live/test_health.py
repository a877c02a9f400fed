"""The live service in the box's health: a warning for the administrator, not an alarm."""

import time

import pytest

from console.health_words import health_in_words
from live import state
from recordings import heartbeat
from recordings.health import health_status
from tests.factories import make_camera

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording_box(monkeypatch):
    heartbeat.beat(time.time())
    monkeypatch.setattr("recordings.health.clock_synchronized", lambda: True)
    return make_camera("North")


def test_live_service_down_is_a_warning_not_a_recording_alarm(recording_box):
    health = health_status()
    assert health["status"] == "warning" and health["alarms"] == []
    assert health["live"] == {"service_running": False}
    assert any("live view service is not running" in w for w in health["warnings"])
    words = health_in_words(health)
    assert "The live view service is not running (recording is not affected)." in words["facts"]

    state.beat(time.time())
    health = health_status()
    assert health["status"] == "ok" and health["live"] == {"service_running": True}
    assert "The live view service is running." in health_in_words(health)["facts"]

    state.beat(time.time() - 60)  # a supervisor that died a minute ago
    assert health_status()["status"] == "warning"


def test_no_camera_no_live_warning(recording_box):
    recording_box.is_enabled = False
    recording_box.save()
    assert health_status()["status"] == "ok"
