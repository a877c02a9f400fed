"""Live view in real headless Chromium, against a real RTSP camera (GStreamer: 1280×720 main,
640×360 substream, 1 s keyframes), the real `live` supervisor and the real recorder."""

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from selenium.webdriver.common.by import By

from audit.models import AuditEvent
from live import state
from recordings.models import Gap, Segment
from tests.browser.conftest import ARTIFACTS
from tests.factories import make_camera
from tests.helpers import wait_for
from tests.recordings.conftest import RTSPServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "live-pass-2026"
IDLE = 4  # CRIMEBOX_LIVE_IDLE_SECONDS for the supervisor under test


@pytest.fixture
def servers():
    if not Path("/usr/bin/python3").exists():
        pytest.skip("Debian's python3 with GStreamer is needed (deploy/bootstrap.sh test)")
    started = []

    def make(**kw) -> RTSPServer:
        started.append(RTSPServer(**kw).start())
        return started[-1]

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def box(box_env, manage_argv, settings, tmp_path):
    """The live supervisor (and, when asked, the recorder) as real processes."""
    settings.LIVE_DIR = str(tmp_path / "live")
    settings.LIVE_IDLE_SECONDS = IDLE  # the web (live_server) and the supervisor agree
    env = {**box_env, "CRIMEBOX_LIVE_DIR": settings.LIVE_DIR,
           "CRIMEBOX_LIVE_IDLE_SECONDS": str(IDLE), "CRIMEBOX_LIVE_MAX_CAMERAS": "1",
           "CRIMEBOX_SEGMENT_SECONDS": "4"}  # fmt: skip
    procs = {}

    def start(name: str) -> subprocess.Popen:
        procs[name] = subprocess.Popen([*manage_argv, name], env=env)
        return procs[name]

    start("live")
    start.procs = procs
    yield start
    for proc in procs.values():
        proc.terminate()
    for proc in procs.values():
        proc.wait(30)


def person(name: str, role: str) -> User:
    user = User.objects.create_user(name, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def log_in(browser, live_server, name):
    browser.get(live_server.url + reverse("admin:login"))
    browser.find_element(By.NAME, "username").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(lambda: "logout" in browser.page_source.lower(), what=f"{name} logged in")


def video(browser, prop):
    return browser.execute_script(f"return document.getElementById('live-video').{prop}")


def plays(browser) -> float:
    """Wait until the video advances (two seconds of it); its time then."""

    def now():
        return video(browser, "currentTime")

    first = wait_for(lambda: now() > 0.5 and now(), timeout=40, what="live video playing")
    return wait_for(lambda: now() > first + 2 and now(), what="live video advancing")


def snap(browser, name: str) -> None:
    """A screenshot for a reviewer, under test-artifacts/screenshots/live/."""
    folder = ARTIFACTS / "live"
    folder.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1400, 1000)
    browser.save_screenshot(str(folder / f"{name}.png"))


def message(browser) -> str:
    return browser.find_element(By.ID, "live-message").text


def live_ffmpegs(supervisor_pid: int) -> list[int]:
    """The supervisor's FFmpeg children (through setpriv, which execs FFmpeg in place)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == supervisor_pid and fields[0] != "Z" and b"hls" in cmdline:
            found.append(int(entry.name))
    return found


def test_two_people_watch_one_ffmpeg_of_the_substream_cap_idle_audit_recording_untouched(
    servers, box, browsers, live_server
):
    cam = servers(size="1280x720", bitrate=1500, sub_size="640x360", sub_bitrate=400)
    north = make_camera("North", main_stream_uri=cam.url, sub_stream_uri=cam.sub_url,
                        sub_width=640, sub_height=360)  # fmt: skip
    south = make_camera("South", main_stream_uri=cam.url + "?south", sub_stream_uri=cam.sub_url)
    person("ines", "Investigator")
    person("fred", "Field technician")
    person("aude", "Auditor")
    recorder = box("record")
    wait_for(lambda: Segment.objects.filter(camera=north).count() >= 2, what="recording")
    watch_start = Segment.objects.filter(camera=north).order_by("-start").first().start

    a, b = browsers(), browsers()
    a.get(live_server.url + reverse("live:camera", args=[north.pk]))
    assert "/login/" in a.current_url  # anonymous: the login page, no video
    log_in(b, live_server, "aude")
    b.get(live_server.url + reverse("live:camera", args=[north.pk]))
    assert "403" in b.title or "Forbidden" in b.page_source  # the auditor has no view_live
    b.delete_all_cookies()

    log_in(a, live_server, "ines")
    a.get(live_server.url + reverse("live:grid"))
    still = a.find_element(By.CSS_SELECTOR, f"#card-{north.pk} img")
    wait_for(lambda: a.execute_script("return arguments[0].naturalWidth", still) > 0, what="still")
    wait_for(lambda: "still: recorded" in a.find_element(By.ID, f"card-{north.pk}").text)
    snap(a, "grid")
    a.find_element(By.CSS_SELECTOR, f"#card-{north.pk}").click()
    plays(a)
    assert video(a, "videoWidth") == 640 and video(a, "videoHeight") == 360  # the substream
    wait_for(lambda: a.find_element(By.ID, "live-delay").text.startswith("about"), what="delay")
    assert "kbit/s" in a.find_element(By.ID, "live-bitrate").text
    snap(a, "player")

    log_in(b, live_server, "fred")
    b.get(live_server.url + reverse("live:camera", args=[north.pk]))
    plays(b)
    pid = state.camera_state(north.slug)["pid"]
    assert live_ffmpegs(box.procs["live"].pid) == [pid]  # two people, one FFmpeg

    b.get(live_server.url + reverse("live:camera", args=[south.pk]))
    wait_for(lambda: "at most 1 camera live" in message(b), what="cap message")
    assert "North" in message(b)
    snap(b, "cap-reached")

    a.get("about:blank")
    b.get("about:blank")
    wait_for(lambda: not pid_alive(pid), timeout=IDLE + 20, what="FFmpeg stopped when idle")

    live = AuditEvent.objects.filter(action=AuditEvent.Action.LIVE)
    wait_for(lambda: live.count() >= 2, what="live sessions audited")
    entries = list(live)
    watched = {(e.username, e.camera_name) for e in entries}
    assert {("ines", "North"), ("fred", "North")} <= watched
    for entry in entries:
        assert entry.client_ip == "127.0.0.1" and entry.detail["duration_seconds"] > 0

    recorder.terminate()
    recorder.wait(30)
    segments = list(Segment.objects.filter(camera=north, start__gte=watch_start).order_by("start"))
    assert len(segments) >= 3
    for before, after in zip(segments, segments[1:], strict=False):
        assert after.start - before.end < timedelta(seconds=0.5), "a hole in the recording"
    assert (
        not Gap.objects.filter(camera=north, start__gte=watch_start)
        .exclude(cause=Gap.Cause.RECORDER_DOWN)
        .exists()
    )


def pid_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_substream_stopped_the_page_says_so(servers, box, browsers, live_server):
    main, sub = servers(), servers(size="640x360")
    camera = make_camera("Pole", main_stream_uri=main.url, sub_stream_uri=sub.url)
    person("ines", "Investigator")
    a = browsers()
    log_in(a, live_server, "ines")
    a.get(live_server.url + reverse("live:camera", args=[camera.pk]))
    plays(a)
    sub.stop()
    wait_for(
        lambda: "stopped sending" in message(a) or "Cannot reach" in message(a),
        what="the page saying the camera's stream is gone",
    )
    assert "error" in a.find_element(By.ID, "live-message").get_attribute("class")
    assert a.find_element(By.ID, "live-state").text == "unavailable"
    snap(a, "substream-stopped")
