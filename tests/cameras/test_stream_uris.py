"""Stream URIs are RTSP(S)-checked before storing and before FFmpeg/ffprobe, which run with a
protocol whitelist; typed RTSP URLs and ONVIF hosts with odd characters are
refused with a clear message (item 13); a camera's address change needs its password (item 6).
"""

import http.server
import re
import threading

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from cameras.models import Camera
from cameras.onvif import DeviceProbe, ONVIFError, Profile, validate_host
from cameras.services import CameraError, apply_probe, split_rtsp_url
from crimebox import ffprobe, ffrun
from crimebox.ffprobe import StreamURLError, ffprobe_argv, probe
from recordings import ffmpeg
from tests.factories import make_camera


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self):
        self.seen.append(self.headers.get("Authorization", "") + " " + self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], _Recorder.seen
    server.shutdown()
    server.server_close()


def test_ffprobe_is_never_pointed_at_http_with_credentials(http_server):
    port, seen = http_server
    with pytest.raises(StreamURLError, match="expected rtsp://"):
        probe(f"http://admin:cam-secret-9@127.0.0.1:{port}/stream", timeout_seconds=5)
    assert seen == []  # the real ffprobe never ran, nothing reached the server


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/x", "file:///etc/passwd", "concat:/a|/b", "rtsp://h/a\nb"]
)
def test_ffmpeg_argv_refuses_anything_but_rtsp(url):
    with pytest.raises(StreamURLError):
        ffmpeg.record_argv(url, "/tmp/x-%s.mp4", segment_seconds=60, timeout_seconds=5)
    with pytest.raises(StreamURLError):
        ffprobe_argv(url) if "://" in url else check(url)


def check(url):
    from crimebox.ffprobe import check_stream_url

    check_stream_url(url)


def test_whitelists_on_every_argv(tmp_path):
    rtsp = "rtsp://127.0.0.1:8554/cam"
    record = ffmpeg.record_argv(rtsp, "/tmp/%s.mp4", segment_seconds=60, timeout_seconds=5)
    live = ffmpeg.live_argv(rtsp, tmp_path, timeout_seconds=5)
    for argv in (record, live, ffprobe_argv(rtsp)):
        i = argv.index("-protocol_whitelist")
        assert argv[i + 1] == "rtsp,rtsps,rtp,srtp,tcp,udp,tls" and i < argv.index(
            "-i" if "-i" in argv else rtsp
        )
    for argv in (
        ffprobe_argv(str(tmp_path / "a.mp4")),
        ffmpeg.thumbnail_argv(tmp_path / "a.mp4", tmp_path / "a.jpg"),
        ffmpeg.clip_argv(tmp_path / "l.ffconcat", 5),
        ffprobe.keyframes_argv(tmp_path / "a.mp4", 5, 30),
        ffprobe.packets_argv(tmp_path / "a.mp4"),
    ):
        assert argv[argv.index("-protocol_whitelist") + 1] == "file"


def test_a_crafted_concat_listing_cannot_reach_the_network(tmp_path, http_server):
    """The whitelist is real: FFmpeg itself refuses an http: entry in a concat listing."""
    port, seen = http_server
    listing = tmp_path / "l.ffconcat"
    listing.write_text(f"ffconcat version 1.0\nfile 'http://127.0.0.1:{port}/x.mp4'\n")
    with pytest.raises(ffrun.FFmpegError):
        ffrun.stream_stdout(ffmpeg.clip_argv(listing, 1), lambda b: None, 30)
    assert seen == []


def device(*uris: str) -> DeviceProbe:
    return DeviceProbe(
        manufacturer="Evil",
        profiles=[
            Profile(token=f"p{i}", width=1920 - i, height=1080, stream_uri=u)
            for i, u in enumerate(uris)
        ],
    )


@pytest.mark.django_db
@pytest.mark.parametrize("uri", ["http://127.0.0.1/x", "file:///etc/passwd", "rtsp://h/\x00"])
def test_a_device_returning_only_bad_stream_uris_is_refused(uri):
    camera = Camera(name="Evil", source=Camera.Source.ONVIF, host="10.0.0.9")
    with pytest.raises(CameraError, match="no rtsp:// or rtsps:// stream"):
        apply_probe(camera, device(uri))
    assert uri not in str(camera.profiles) and camera.main_stream_uri == ""


@pytest.mark.django_db
def test_bad_uris_of_a_device_are_dropped_the_good_one_recorded():
    camera = Camera(name="Mixed", source=Camera.Source.ONVIF, host="10.0.0.9")
    apply_probe(camera, device("file:///etc/passwd", "rtsp://10.0.0.9:554/main"))
    assert camera.main_stream_uri == "rtsp://10.0.0.9:554/main"
    assert "file:" not in str(camera.profiles) and camera.sub_stream_uri in (
        "",
        camera.main_stream_uri,
    )


@pytest.mark.parametrize(
    "url,message",
    [
        ("rtsp://cam/live\nx", "U+000A"),
        ("rtsp://cam/li\tve", "U+0009"),
        ("rtsp://cam。example/live", "U+3002 IDEOGRAPHIC FULL STOP"),
        ("rtsp://cam:99999/live", "bad host or port"),
    ],
)
def test_typed_rtsp_urls_with_odd_characters_are_refused(url, message):
    with pytest.raises(CameraError, match=re.escape(message)) as error:
        split_rtsp_url(url)
    assert "\n" not in str(error.value) and "\t" not in str(error.value)


def test_uppercase_scheme_is_just_rtsp():
    assert split_rtsp_url("RTSP://cam/live")[0] == "rtsp://cam/live"


def test_onvif_host_with_a_port_is_not_taken_for_ipv6():
    with pytest.raises(ONVIFError, match="give the port in the port field"):
        validate_host("127.0.0.1:18080")
    assert validate_host("fe80::1") == "fe80::1" and validate_host("[::1]") == "::1"


# Item 6: a new host or port needs the password again.
@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"host": "192.0.2.66"}, {"onvif_port": "8081"}])
def test_moving_a_camera_needs_its_password(client, change):
    camera = make_camera(
        "Gate", source=Camera.Source.ONVIF, host="10.0.0.5", username="admin", password="cam-9"
    )
    tech = User.objects.create_user("tech", password="x-pass-123", is_staff=True)
    tech.groups.add(Group.objects.get(name="Field technician"))
    client.force_login(tech)
    data = {
        "name": camera.name,
        "host": camera.host,
        "onvif_port": camera.onvif_port,
        "username": "admin",
        "password": "",
        "is_enabled": "on",
        **change,
    }
    page = client.post(reverse("admin:cameras_camera_change", args=[camera.pk]), data)
    assert page.status_code == 200 and "type its password again" in page.content.decode()
    camera.refresh_from_db()
    assert (camera.host, camera.onvif_port, camera.password) == ("10.0.0.5", 80, "cam-9")


@pytest.mark.django_db
def test_live_view_of_a_stored_non_rtsp_url_is_refused_not_a_crash():
    """A row written before the checks (or by hand) with a file: URL: live view says so."""
    from live import state
    from live.supervisor import LiveSupervisor

    camera = make_camera("Old", main_stream_uri="file:///etc/passwd")
    supervisor = LiveSupervisor()
    try:
        supervisor.start(camera, 0.0)
    finally:
        supervisor.shutdown()
    assert camera.pk not in supervisor.streams
    assert "expected rtsp://" in supervisor.errors[camera.pk]
    assert (state.camera_state(camera.slug) or {}).get("state") == "unavailable"


def test_an_unknown_onvif_host_is_said_in_words():
    from cameras.onvif import probe_device

    with pytest.raises(ONVIFError) as error:
        probe_device("no-such-host.invalid", 80, "admin", "pw", timeout=5)
    assert "no such host name" in str(error.value)
    assert "Name or service not known" not in str(error.value)
