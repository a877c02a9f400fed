"""Server-side requests through the snapshot URI: only an image, only from
the camera's host, never following a redirect elsewhere, bounded in time and size, one fetch
per camera for every viewer, and never more than a few web threads waiting on cameras."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from cameras.models import Camera
from live import stills
from tests.cameras.hostile import (
    CAMERA_HOST,
    JPEG,
    OTHER_HOST,
    listener,
    snapshot_server,
)
from tests.crimebox.test_web_server import free_port, get
from tests.factories import make_camera
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db


def snapshot_camera(url: str, username: str = "op") -> Camera:
    return make_camera(
        "Snap", source=Camera.Source.ONVIF, host=CAMERA_HOST, snapshot_uri=url,
        username=username, password="Snap-pw-77",
    )  # fmt: skip


def test_an_internal_page_is_never_served_as_an_image(client):
    with snapshot_server("page") as server:
        camera = snapshot_camera(server.url)
        client.force_login(User.objects.create_superuser("chief", password="a-long-pass-phrase"))
        response = client.get(reverse("live:still", args=[camera.pk]))
    assert server.paths  # it was asked, and what it said was not a picture
    assert response.status_code == 404 and b"hunter2" not in response.content


def test_a_png_snapshot_is_served_as_png():
    assert stills.content_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert stills.content_type(JPEG) == "image/jpeg"
    assert stills.content_type(b"<html>") == ""


def test_a_snapshot_over_the_size_cap_is_refused():
    with snapshot_server("huge") as server:
        assert stills.snapshot(snapshot_camera(server.url)) is None
        assert server.paths


def test_a_slow_drip_is_given_up_at_the_deadline():
    """One byte every half second never trips a per-read timeout: only a total deadline
    stops it (the server would go on for 20 s)."""
    with snapshot_server("drip") as server:
        assert stills.snapshot(snapshot_camera(server.url, username="")) is None
        assert server.paths == ["/snap.jpg"] and server.finished == []


def test_headers_dripped_a_byte_at_a_time_are_given_up_at_the_deadline():
    """Each byte comes well within a read timeout, and the headers never end: only a deadline
    over the whole exchange, headers included, frees the web thread."""
    with snapshot_server("drip-headers") as server:
        started = time.monotonic()
        assert stills.snapshot(snapshot_camera(server.url, username="")) is None
        took = time.monotonic() - started
        assert server.paths == [] or server.finished == []
    assert took < stills.SNAPSHOT_DEADLINE + 1.5, took


def test_a_redirect_to_another_host_is_not_followed():
    with listener(OTHER_HOST) as other, snapshot_server("redirect") as server:
        server.location = f"http://{OTHER_HOST}:{other.port}/snap.jpg"
        camera = snapshot_camera(server.url)
        assert stills.snapshot(camera) is None
        assert stills.snapshot(camera) is None
    assert other.connections == [] and other.everything() == b""
    camera.refresh_from_db()
    assert f"redirected to http://{OTHER_HOST}:{other.port}" in camera.refusal
    # Audited once, not once per still: the second identical refusal is no news.
    [entry] = AuditEvent.objects.filter(detail__change="refused")
    assert entry.detail["via"] == "still" and entry.camera_id == camera.pk


def test_a_redirect_on_the_camera_itself_is_followed():
    with snapshot_server("redirect") as server:
        server.location = "/image"
        assert stills.snapshot(snapshot_camera(server.url)) == JPEG
        assert server.paths[-1] == "/image"


def test_sixty_viewers_one_fetch_and_a_few_threads(live_dir):
    """60 stills at once of a camera that drips: one request reaches the camera, at most
    MAX_WAITING callers are held (fetching or waiting for that fetch), the rest are told
    at once (StillBusy: the view's 503)."""
    with snapshot_server("drip") as server:
        server.drip_seconds = 60
        camera = snapshot_camera(server.url, username="")
        busy, served = [], []
        start = threading.Barrier(60)

        def viewer() -> None:
            start.wait()
            try:
                served.append(stills.still(camera))
            except stills.StillBusy:
                busy.append(1)

        threads = [threading.Thread(target=viewer) for _ in range(60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert server.paths == ["/snap.jpg"]  # single flight
    assert len(served) <= stills.MAX_WAITING and len(busy) == 60 - len(served)
    assert served == [None] * len(served)  # the drip was given up; no segment to fall back on


@pytest.fixture
def web(box_env, settings, live_dir):
    """The real web server (gunicorn, one process: the harshest case) on loopback."""
    port = free_port()
    log = settings.DATA_DIR / "gunicorn.log"
    env = {**box_env, "CRIMEBOX_BIND": f"127.0.0.1:{port}", "CRIMEBOX_WEB_WORKERS": "1",
           "CRIMEBOX_ALLOWED_HOSTS": "127.0.0.1", "CRIMEBOX_LIVE_DIR": str(live_dir),
           "HOME": str(settings.DATA_DIR)}  # fmt: skip
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "python:crimebox.gunicorn_conf", "crimebox.wsgi"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )

    def up():
        try:
            return get(port, "/health")[0] in (200, 503)
        except OSError:
            if proc.poll() is not None:
                pytest.fail(log.read_text())
            return False

    wait_for(up, what="gunicorn to answer")
    yield port
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_sixty_stills_of_a_dripping_camera_leave_health_answering(web):
    with snapshot_server("drip") as server:
        server.drip_seconds = 30
        camera = snapshot_camera(server.url, username="")
        browser = Client()
        browser.force_login(User.objects.create_superuser("chief", password="a-long-pass-phrase"))
        cookie = browser.cookies["sessionid"].value
        url = reverse("live:still", args=[camera.pk])
        answers: list[int] = []

        def viewer() -> None:
            try:
                answers.append(get(web, url, cookie, timeout=60)[0])
            except OSError:
                answers.append(0)

        threads = [threading.Thread(target=viewer) for _ in range(60)]
        for t in threads:
            t.start()
        wait_for(lambda: server.paths, what="the still to reach the camera")
        for _ in range(5):  # while the camera drips: /health and the login, each within 1 s
            status, _, body = get(web, "/health", timeout=1.0)
            assert status in (200, 503) and b'"status"' in body
            assert get(web, "/login/", timeout=1.0)[0] == 200
        for t in threads:
            t.join(60)
        assert server.paths == ["/snap.jpg"]
    assert answers.count(503) >= 60 - stills.MAX_WAITING and len(answers) == 60
    assert set(answers) <= {503, 404}
