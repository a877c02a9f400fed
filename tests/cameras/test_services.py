"""cameras/services.py: address/URL parsing, duplicates, adding by RTSP URL with real ffprobe."""

import pytest

from cameras.models import Camera
from cameras.onvif import DeviceProbe, Profile
from cameras.services import (
    CameraError,
    add_onvif_camera,
    add_rtsp_camera,
    add_test_pattern_camera,
    apply_probe,
    check_unique,
    parse_onvif_address,
    reprobe,
    split_rtsp_url,
)
from tests.factories import make_camera


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10.0.0.5", ("10.0.0.5", 80)),
        ("cam.local:8080", ("cam.local", 8080)),
        ("[fe80::1]:8000", ("fe80::1", 8000)),
        ("fe80::1", ("fe80::1", 80)),
    ],
)
def test_parse_onvif_address(text, expected):
    assert parse_onvif_address(text) == expected


@pytest.mark.parametrize("text", ["", "cam:0", "cam:99999", "cam:http", "http://cam", "a b"])
def test_parse_onvif_address_rejects(text):
    with pytest.raises(CameraError):
        parse_onvif_address(text)


def test_split_rtsp_url_moves_inline_credentials_out():
    assert split_rtsp_url("rtsp://op:p%40ss@10.0.0.5:554/live?ch=1") == (
        "rtsp://10.0.0.5:554/live?ch=1",
        "op",
        "p@ss",
    )
    # Separate credentials win over inline ones.
    assert split_rtsp_url("rtsp://a:b@h/x", "op", "pw") == ("rtsp://h/x", "op", "pw")
    assert split_rtsp_url(" rtsp://h/x ") == ("rtsp://h/x", "", "")


@pytest.mark.parametrize(
    "url", ["", "h/x", "http://h/x", "rtsp://", "rtsp://h:port/x", "rtsp://h:0/x", "rtsp://h/a b"]
)
def test_split_rtsp_url_rejects_malformed(url):
    with pytest.raises(CameraError, match="malformed RTSP URL"):
        split_rtsp_url(url)


@pytest.mark.django_db
def test_check_unique():
    make_camera(
        "Gate",
        source="onvif",
        host="10.0.0.5",
        onvif_port=80,
        main_stream_uri="rtsp://10.0.0.5/main",
    )
    with pytest.raises(CameraError, match="named 'gate' already exists"):
        check_unique("gate")
    with pytest.raises(CameraError, match="'Gate' already uses ONVIF address 10.0.0.5:80"):
        check_unique("New", host="10.0.0.5", port=80)
    with pytest.raises(CameraError, match="'Gate' already records rtsp://10.0.0.5/main"):
        check_unique("New", url="rtsp://u:p@10.0.0.5/main")
    check_unique("New", host="10.0.0.5", port=8080, url="rtsp://10.0.0.5/sub")
    check_unique("Gate", exclude_pk=Camera.objects.get().pk)


def test_apply_probe_keeps_chosen_profiles_and_redacts():
    probe = DeviceProbe(
        manufacturer="Axis",
        model="P1448",
        profiles=[
            Profile(
                "hi",
                width=1920,
                height=1080,
                encoding="h264",
                fps=25,
                stream_uri="rtsp://u:pw@c/hi",
                snapshot_uri="http://u:pw@c/snap.jpg",
            ),
            Profile("lo", width=640, height=360, encoding="h264", stream_uri="rtsp://c/lo"),
        ],
    )
    camera = Camera(name="x", host="c")  # the URIs are on the camera's own host
    apply_probe(camera, probe)
    assert (camera.main_profile_token, camera.sub_profile_token) == ("hi", "lo")
    assert camera.main_stream_uri == "rtsp://c/hi" and camera.snapshot_uri == "http://c/snap.jpg"
    assert (camera.main_codec, camera.main_width, camera.main_fps) == ("h264", 1920, 25)
    apply_probe(camera, probe, main_token="lo", sub_token="gone")
    assert (camera.main_profile_token, camera.sub_profile_token) == ("lo", "lo")


@pytest.mark.django_db
def test_add_onvif_camera_reports_unreachable_and_saves_nothing(closed_port):
    with pytest.raises(CameraError, match="refused the connection"):
        add_onvif_camera("Gate", "127.0.0.1", closed_port, "u", "Secret-pw-1")
    assert not Camera.objects.exists()


@pytest.mark.django_db
def test_reprobe_records_error_on_row(closed_port):
    camera = make_camera(
        "Gate", source="onvif", host="127.0.0.1", onvif_port=closed_port, password="Secret-pw-1"
    )
    with pytest.raises(CameraError):
        reprobe(camera)
    camera.refresh_from_db()
    assert "refused the connection" in camera.last_error
    with pytest.raises(CameraError, match="not an ONVIF camera"):
        reprobe(make_camera("Plain"))


@pytest.mark.django_db
def test_add_test_pattern_camera():
    camera = add_test_pattern_camera(" Pattern ")
    assert (camera.name, camera.source) == ("Pattern", Camera.Source.TEST_PATTERN)


@pytest.mark.django_db
def test_add_rtsp_camera_cannot_open(closed_port):
    with pytest.raises(CameraError, match=r"ffprobe cannot open rtsp://127\.0\.0\.1") as err:
        add_rtsp_camera("Door", f"rtsp://op:Rtsp-pw-55@127.0.0.1:{closed_port}/live")
    assert "Rtsp-pw-55" not in str(err.value)
    assert not Camera.objects.exists()


@pytest.mark.django_db
def test_add_rtsp_camera_against_real_rtsp_server(rtsp_server):
    server = rtsp_server(user="op", password="Rtsp-pw-55")  # the fixture marks the test slow
    with pytest.raises(CameraError, match="401|Unauthorized|authori") as err:
        add_rtsp_camera("Door", server.url, "op", "Wrong-pw-66")
    camera = add_rtsp_camera("Door", server.url.replace("rtsp://", "rtsp://op:Rtsp-pw-55@"))
    assert camera.main_stream_uri == server.url
    assert (camera.username, camera.password) == ("op", "Rtsp-pw-55")
    assert (camera.main_codec, camera.main_width, camera.main_height) == ("h264", 320, 240)
    assert "Wrong-pw-66" not in str(err.value)
    assert Camera.objects.count() == 1


def test_onvif_port_in_unicode_digits_is_a_clear_error():
    with pytest.raises(CameraError, match="not a port number"):
        parse_onvif_address("127.0.0.1:²²")
