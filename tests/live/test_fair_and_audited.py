"""No live byte without an audited session; the live cap is shared fairly."""

import time

import pytest
from django.urls import reverse

from live import state
from live.models import LiveSession
from live.supervisor import LiveSupervisor, fair_share
from tests.factories import make_camera
from tests.helpers import wait_for
from tests.live.test_views import camera, playing, user_with  # noqa: F401  (fixtures)


def test_media_without_the_playlist_is_refused(client, camera, playing):  # noqa: F811
    client.force_login(user_with("Investigator", "ines"))
    client.get(reverse("live:status", args=[camera.pk]))
    for name in ("init.mp4", "seg000003.m4s"):
        r = client.get(reverse("live:media", args=[camera.pk, name]))
        assert r.status_code == 403 and b"s" * 100 not in r.content
    assert not LiveSession.objects.exists()
    # Through the playlist: a session, then the files belong to it.
    client.get(reverse("live:playlist", args=[camera.pk]))
    session = LiveSession.objects.get()
    r = client.get(reverse("live:media", args=[camera.pk, "seg000003.m4s"]))
    assert r.status_code == 200 and len(r.content) == 62_500
    # Once the session is closed (and audited), its files are no longer served.
    LiveSession.objects.filter(pk=session.pk).update(ended_at=session.last_seen_at)
    assert client.get(reverse("live:media", args=[camera.pk, "init.mp4"])).status_code == 403


def test_demand_says_who(client, camera, playing):  # noqa: F811
    user = user_with("Investigator", "ines")
    client.force_login(user)
    client.get(reverse("live:status", args=[camera.pk]))
    assert state.wanters(camera.slug, time.time(), 60) == {user.pk}


def test_fair_share_gives_each_person_a_place():
    # Cap 2: ines holds cameras 1 and 2, fred asks for 3: ines keeps one, fred gets one.
    assert fair_share({1: {10}, 2: {10}, 3: {20}}, running={1, 2}, cap=2) == {1, 3}
    # A camera two people want counts once; nobody else waits: all of one person's fit.
    assert fair_share({1: {10, 20}, 2: {10}}, running=set(), cap=2) == {1, 2}
    # Three people, cap 2: the two who asked first.
    assert fair_share({5: {1}, 6: {2}, 7: {3}}, running=set(), cap=2) == {5, 6}
    # Demand without a user is one person (the supervisor's own tests, old web processes).
    assert fair_share({1: set(), 2: set()}, running={1}, cap=1) == {1}


@pytest.mark.django_db(transaction=True)
def test_one_person_cannot_hold_every_live_place(settings):
    settings.LIVE_MAX_CAMERAS = 2
    supervisor = LiveSupervisor()
    try:
        first, second, third = (
            make_camera(name, source="test", main_stream_uri="") for name in ("A", "B", "C")
        )
        for cam in (first, second):
            state.want(cam.slug, user=10)
        supervisor.tick()
        assert set(supervisor.streams) == {first.pk, second.pk}

        def third_live() -> bool:
            for cam in (first, second):
                state.want(cam.slug, user=10)
            state.want(third.slug, user=20)
            return third.pk in supervisor.streams

        wait_for(third_live, tick=supervisor.tick, what="the other person's camera starts")
        assert len(supervisor.streams) == 2 and first.pk in supervisor.streams
        assert (state.camera_state(second.slug) or {})["state"] == "capped"
        assert "shared fairly" in state.camera_state(second.slug)["message"]
    finally:
        supervisor.shutdown()
