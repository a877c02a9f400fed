"""The player's page and its playlist: the day's segments and gaps for playing on."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from audit.models import AuditEvent
from recordings.index import open_segment, segment_dir
from recordings.models import Gap
from tests.factories import close_viewings, make_camera, make_media, make_segments

T0 = datetime(2026, 11, 23, 17, 57, tzinfo=UTC)


def login(client, role):
    user = User.objects.create_user(role.split()[0].lower(), password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)


@pytest.fixture
def footage(db, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    camera = make_camera("North")
    segs = make_segments(camera, T0, 2, seconds=4)
    Gap.objects.create(
        camera=camera, start=T0 + timedelta(seconds=8), end=None, cause=Gap.Cause.STALLED
    )
    return camera, segs


def test_player_page_carries_the_days_playlist(client, footage):
    camera, segs = footage
    login(client, "Investigator")
    page = client.get(reverse("recordings:player", args=[segs[0].pk]) + "?t=1.5")
    body = page.content.decode()
    assert "Play North — Monday 2026-11-23" in body
    assert "2026-11-23 18:57:00 CET (17:57:00 UTC)" in body  # once, with both zones
    assert "(UTC)" not in body and "Export this" in body
    data = json.loads(body.split('id="playlist" type="application/json">')[1].split("</script>")[0])
    assert [s["id"] for s in data["segments"]] == [s.pk for s in segs]
    assert data["segments"][0]["start"] == int(T0.timestamp() * 1000)
    assert data["zone"] == "Europe/Berlin" and data["zone_names"] == {"60": "CET"}
    assert data["gaps"][0]["cause"] == "Stream stalled"
    assert data["next_day"] == "2026-11-24"


def test_playlist_json_and_the_segment_being_written(client, footage):
    camera, segs = footage
    login(client, "Investigator")
    start = T0 + timedelta(seconds=20)
    path = make_media(segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4", 2)
    open_segment(camera, path)
    url = reverse("recordings:playlist", args=[camera.pk, "2026-11-23"])
    data = client.get(url).json()
    assert data["segments"][-1]["recording"] is True
    assert data["segments"][-1]["download"] == ""
    assert (
        client.get(reverse("recordings:playlist", args=[camera.pk, "not-a-day"])).status_code == 404
    )


def test_player_and_playlist_need_the_footage_permission(client, footage):
    camera, segs = footage
    login(client, "Auditor")
    assert client.get(reverse("recordings:player", args=[segs[0].pk])).status_code == 403
    url = reverse("recordings:playlist", args=[camera.pk, "2026-11-23"])
    assert client.get(url).status_code == 403


def test_each_segment_played_on_is_audited(client, footage):
    camera, segs = footage
    login(client, "Investigator")
    url = reverse("recordings:played", args=[segs[1].pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 204
    close_viewings()
    event = AuditEvent.objects.get(action="play")
    assert event.target == f"segment {segs[1].pk}" and event.detail["requests"] == 1
    login(client, "Auditor")
    assert client.post(url).status_code == 403
