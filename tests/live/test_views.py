"""Live pages and files through Django: permissions, what the status says, sessions audited."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from live import sessions, state
from live.models import LiveSession
from live.status import parse_playlist
from recordings.models import Segment
from tests.factories import make_camera

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:3
#EXT-X-MAP:URI="init.mp4"
#EXTINF:1.000000,
seg000003.m4s
#EXTINF:1.000000,
seg000004.m4s
"""


def user_with(role: str | None, name: str = "") -> User:
    user = User.objects.create_user(
        name or (role or "nobody").split()[0].lower(), password="x-pass-123", is_staff=True
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def camera(db):
    return make_camera(
        "North", sub_stream_uri="rtsp://127.0.0.1:8554/sub", sub_width=640, sub_height=360
    )


@pytest.fixture
def playing(camera):
    """The RAM directory as the supervisor leaves it while a camera is live."""
    folder = state.stream_dir(camera.slug)
    folder.mkdir(parents=True)
    (folder / "index.m3u8").write_text(PLAYLIST)
    (folder / "init.mp4").write_bytes(b"i" * 100)
    for n in (3, 4):
        (folder / f"seg{n:06d}.m4s").write_bytes(b"s" * 62_500)  # 500 kbit in 1 s
    state.set_camera_state(camera.slug, {"state": "playing", "message": "Live."})
    state.beat(timezone.now().timestamp())
    return folder


def urls(camera) -> list[str]:
    return [
        reverse("live:grid"),
        reverse("live:grid_status"),
        reverse("live:camera", args=[camera.pk]),
        reverse("live:status", args=[camera.pk]),
        reverse("live:playlist", args=[camera.pk]),
        reverse("live:media", args=[camera.pk, "init.mp4"]),
        reverse("live:still", args=[camera.pk]),
    ]


def test_anonymous_and_roles_without_view_live_are_refused(client, camera, playing):
    for url in urls(camera):
        r = client.get(url)
        assert r.status_code in (302, 403), url
        assert r.status_code == 403 or "/login/" in r["Location"]
    for role in ("Auditor", None):
        client.force_login(user_with(role))
        for url in urls(camera):
            assert client.get(url).status_code == 403, (role, url)
    assert not LiveSession.objects.exists()


@pytest.mark.parametrize("role", ["Investigator", "Field technician", "Administrator"])
def test_roles_with_view_live_watch(client, camera, playing, role):
    client.force_login(user_with(role))
    page = client.get(reverse("live:camera", args=[camera.pk]))
    assert page.status_code == 200 and b"North" in page.content
    status = client.get(reverse("live:status", args=[camera.pk])).json()
    assert status["state"] == "playing" and status["stream"] == "sub"
    assert status["width"] == 640 and status["bitrate_kbps"] == 500
    assert status["recording"] == "Not started"  # the camera's recording status beside it
    playlist = client.get(reverse("live:playlist", args=[camera.pk]))
    assert playlist.status_code == 200 and playlist.content == PLAYLIST.encode()
    assert playlist["Content-Type"] == "application/vnd.apple.mpegurl"
    segment = client.get(reverse("live:media", args=[camera.pk, "seg000004.m4s"]))
    assert segment.status_code == 200 and len(segment.content) == 62_500


def test_only_hls_file_names_are_served(client, camera, playing, tmp_path):
    client.force_login(user_with("Investigator"))
    (playing.parent / "secret.txt").write_text("no")
    for name in ("..%2Fsecret.txt", "secret.txt", "index.m3u8.tmp", "seg1.m4s", "x.mp4"):
        assert client.get(f"/live/{camera.pk}/{name}").status_code == 404, name
    client.get(reverse("live:playlist", args=[camera.pk]))  # the session the files belong to
    assert client.get(reverse("live:media", args=[camera.pk, "seg000009.m4s"])).status_code == 404


def test_status_asks_for_the_stream_and_says_when_the_service_is_down(client, camera):
    client.force_login(user_with("Investigator"))
    status = client.get(reverse("live:status", args=[camera.pk])).json()
    assert status["state"] == "service_down" and "crimebox-live" in status["message"]
    assert state.wanted_at(camera.slug) is not None  # demand signalled all the same
    state.beat(timezone.now().timestamp())
    assert client.get(reverse("live:status", args=[camera.pk])).json()["state"] == "starting"


def test_status_says_playing_once_the_first_segment_is_written(client, camera, playing):
    """The page attaches the player as soon as FFmpeg's playlist has a segment, before the
    supervisor's next tick turns its "starting" into "playing"."""
    client.force_login(user_with("Investigator"))
    state.set_camera_state(camera.slug, {"state": "starting", "message": "Connecting…"})
    status = client.get(reverse("live:status", args=[camera.pk])).json()
    assert status["state"] == "playing" and status["segments"] == 2
    (playing / "index.m3u8").write_text(PLAYLIST.split("#EXTINF")[0])  # no segment yet
    assert client.get(reverse("live:status", args=[camera.pk])).json()["state"] == "starting"
    (playing / "index.m3u8").write_text(PLAYLIST)
    state.set_camera_state(camera.slug, {"state": "unavailable", "message": "503"})
    assert client.get(reverse("live:status", args=[camera.pk])).json()["state"] == "unavailable"


def test_without_substream_falls_back_to_main_and_says_what_it_costs(client, db):
    camera = make_camera("Old", main_width=1920, main_height=1080)
    client.force_login(user_with("Investigator"))
    status = client.get(reverse("live:status", args=[camera.pk])).json()
    assert status["stream"] == "main" and status["width"] == 1920
    assert "no substream" in status["fallback"] and "9×" in status["fallback"]
    page = client.get(reverse("live:camera", args=[camera.pk]))
    assert b"no substream" in page.content


def test_capped_and_refused_messages_reach_the_status(client, camera):
    client.force_login(user_with("Investigator"))
    state.beat(timezone.now().timestamp())
    state.set_camera_state(camera.slug, {"state": "capped", "message": "at most 2 cameras"})
    status = client.get(reverse("live:status", args=[camera.pk])).json()
    assert status["state"] == "capped" and status["message"] == "at most 2 cameras"


def test_a_session_is_opened_once_kept_fresh_and_audited_when_it_ends(
    client, camera, playing, settings
):
    settings.LIVE_IDLE_SECONDS = 60
    user = user_with("Investigator", "ines")
    client.force_login(user)
    for _ in range(3):
        client.get(reverse("live:playlist", args=[camera.pk]), REMOTE_ADDR="10.147.17.9")
    session = LiveSession.objects.get()
    assert session.username == "ines" and session.client_ip == "10.147.17.9"
    assert session.session_hash != client.session.session_key  # no credential stored
    LiveSession.objects.filter(pk=session.pk).update(
        started_at=session.started_at - timedelta(minutes=5),
        last_seen_at=session.last_seen_at - timedelta(seconds=20),
    )
    assert sessions.close_stale() == 1
    assert sessions.close_stale() == 0  # audited once
    entry = AuditEvent.objects.get(action=AuditEvent.Action.LIVE)
    assert entry.username == "ines" and entry.camera_id == camera.pk
    assert entry.client_ip == "10.147.17.9"
    assert entry.detail["duration_seconds"] == pytest.approx(280, abs=2)
    assert entry.detail["started_at"].startswith(str(session.started_at.date()))


def test_another_browser_is_another_session(client, camera, playing, django_user_model):
    from django.test import Client

    client.force_login(user_with("Investigator", "ines"))
    other = Client()
    other.force_login(user_with("Field technician", "fred"))
    for c in (client, other, client):
        c.get(reverse("live:playlist", args=[camera.pk]))
    assert sorted(LiveSession.objects.values_list("username", flat=True)) == ["fred", "ines"]


def test_parse_playlist():
    assert parse_playlist(PLAYLIST) == [("seg000003.m4s", 1.0), ("seg000004.m4s", 1.0)]


def test_open_recorded_footage_at_this_moment(client, camera):
    from tests.factories import make_segment

    start = timezone.now() - timedelta(seconds=30)
    segment = make_segment(camera, start, seconds=4)
    Segment.objects.filter(pk=segment.pk).update(status=Segment.Status.RECORDING)
    client.force_login(user_with("Investigator"))
    page = client.get(reverse("live:camera", args=[camera.pk]))
    assert b"open recorded footage at this moment" in page.content
    r = client.get(reverse("live:recorded", args=[camera.pk]) + "?behind=5")
    assert r["Location"].startswith(reverse("recordings:player", args=[segment.pk]) + "?t=")
    assert float(r["Location"].split("?t=")[1]) == pytest.approx(25, abs=2)
    for bad in ("x", "-4", "1e9"):  # bad input: still somewhere sensible
        assert (
            client.get(reverse("live:recorded", args=[camera.pk]) + f"?behind={bad}").status_code
            == 302
        )


def test_recorded_link_needs_view_footage(client, camera):
    client.force_login(user_with("Field technician"))
    page = client.get(reverse("live:camera", args=[camera.pk]))
    assert page.status_code == 200 and b"open recorded footage" not in page.content
    assert client.get(reverse("live:recorded", args=[camera.pk])).status_code == 403


def test_live_sessions_list_for_auditors_not_for_viewers(client, camera, playing):
    client.force_login(user_with("Investigator", "ines"))
    client.get(reverse("live:playlist", args=[camera.pk]))
    assert client.get("/live/livesession/").status_code == 403
    client.force_login(user_with("Auditor", "aude"))
    page = client.get("/live/livesession/")
    assert page.status_code == 200 and b"ines" in page.content and b"North" in page.content


def test_unwritable_live_directory_is_a_message_not_an_error(client, camera, settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings.LIVE_DIR = str(blocker / "live")
    client.force_login(user_with("Investigator"))
    assert client.get(reverse("live:camera", args=[camera.pk])).status_code == 200
    status = client.get(reverse("live:status", args=[camera.pk])).json()
    assert status["state"] == "service_down"
