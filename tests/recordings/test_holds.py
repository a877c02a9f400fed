from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from audit.models import AuditEvent
from recordings.holds import HoldError, place_hold, release_hold
from recordings.models import Segment
from tests.factories import make_camera, make_segment, make_segments

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def segs(db):
    return make_segments(make_camera("North"), T0, 3, seconds=2)


def held():
    return list(
        Segment.objects.filter(on_hold=True).order_by("sequence").values_list("sequence", flat=True)
    )


def test_overlapping_holds_release_one_keeps_the_other(segs):
    camera = segs[0].camera
    first = place_hold(camera, T0, T0 + timedelta(seconds=3), "case A")
    place_hold(camera, T0 + timedelta(seconds=3), T0 + timedelta(seconds=5), "case B")
    assert held() == [1, 2, 3]
    release_hold(first, "case A closed")
    assert held() == [2, 3]
    with pytest.raises(HoldError, match="already released"):
        release_hold(first, "again")
    actions = list(AuditEvent.objects.values_list("action", flat=True).order_by("sequence"))
    assert actions == ["hold", "hold", "release"]


def test_footage_recorded_later_inside_a_hold_is_held(segs):
    camera = segs[0].camera
    place_hold(camera, T0, T0 + timedelta(minutes=5), "case C")
    later = make_segment(camera, T0 + timedelta(seconds=6), seconds=2)
    assert later.on_hold


def test_bad_holds(segs):
    camera = segs[0].camera
    with pytest.raises(HoldError, match="reason for the hold must not be empty"):
        place_hold(camera, T0, T0 + timedelta(seconds=1), "  ")
    with pytest.raises(HoldError, match="after its start"):
        place_hold(camera, T0, T0, "x")
    assert held() == []


def test_release_in_the_admin_asks_a_reason(segs, client):
    boss = User.objects.create_superuser("boss", password="pw-boss-123")
    client.force_login(boss)
    hold = place_hold(segs[0].camera, T0, T0 + timedelta(seconds=1), "case D")
    url = reverse("admin:recordings_legalhold_changelist")
    data = {"action": "release", "_selected_action": [hold.pk]}
    assert b"Reason for release" in client.post(url, data).content
    assert held() == [1]
    client.post(url, {**data, "release_reason": "charges dropped"})
    hold.refresh_from_db()
    assert hold.released_by == boss and hold.release_reason == "charges dropped"
    assert held() == []
