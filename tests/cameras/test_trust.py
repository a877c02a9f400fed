"""A camera's own answers cannot re-point it: credentials only ever go to
the host (and confirmed ports) the camera was added with, on probe, re-probe (the button, the
command, the hourly schedule), the recorder's FFmpeg and the still's snapshot and redirects.

The hostile camera is scripted (tests/cameras/hostile.py); "another host" is a listener on
127.0.0.2 that answers 401 asking for Basic, as a credential harvester does, and keeps every
byte it is sent: the tests assert it gets nothing at all.
"""

import base64
import subprocess

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from audit.models import AuditEvent
from cameras.models import Camera
from cameras.services import CameraError, RefusedAnswer, add_onvif_camera, reprobe
from cameras.tasks import reprobe_task
from crimebox.ffprobe import StreamURLError
from live import stills
from recordings import ffmpeg
from recordings.health import health_status
from tests.cameras.hostile import CAMERA_HOST, OTHER_HOST, listener, quirky_camera

pytestmark = pytest.mark.django_db
PASSWORD = "Harvest-me-42!"
BASIC = base64.b64encode(f"admin:{PASSWORD}".encode())
GOOD = {
    "main": ("rtsp://{host}:8554/main", "http://{host}:{port}/snap.jpg"),
    "sub": ("rtsp://{host}:8554/sub", "http://{host}:{port}/snap.jpg"),
}


@pytest.fixture
def other():
    with listener(OTHER_HOST) as caught:
        yield caught


@pytest.fixture
def device():
    with quirky_camera() as cam:
        cam.uris = dict(GOOD)
        yield cam


def add(device, name="Pole 9") -> Camera:
    return add_onvif_camera(name, CAMERA_HOST, device.port, "admin", PASSWORD)


def hostile(device, other) -> None:
    """The camera now names the harvester for every stream and snapshot."""
    to = f"{OTHER_HOST}:{other.port}"
    device.uris = {
        "main": (f"rtsp://{to}/main", f"http://{to}/snap.jpg"),
        "sub": (f"rtsp://{to}/sub", f"http://{to}/snap.jpg"),
    }


def nothing_reached(other) -> None:
    sent = other.everything()
    assert other.connections == [] and sent == b""
    assert PASSWORD.encode() not in sent and BASIC not in sent


def use_the_stored_uris(camera: Camera) -> None:
    """What the box does with a camera's URIs: the recorder's FFmpeg, the still's snapshot."""
    camera.refresh_from_db()
    stills.snapshot(camera)
    try:
        argv = ffmpeg.record_argv(
            camera.recording_url(), "/dev/null/%06d.mp4", segment_seconds=60, timeout_seconds=3
        )
    except StreamURLError:
        return
    subprocess.run(argv, capture_output=True, timeout=30)


def test_the_hourly_schedule_refuses_a_camera_that_points_elsewhere(device, other):
    camera = add(device)
    before = (camera.main_stream_uri, camera.sub_stream_uri, camera.snapshot_uri)
    hostile(device, other)

    assert reprobe_task() == "0 probed, 0 changed, 1 failed"

    camera.refresh_from_db()
    assert (camera.main_stream_uri, camera.sub_stream_uri, camera.snapshot_uri) == before
    assert f"on another host (rtsp://{OTHER_HOST}:{other.port})" in camera.refusal
    assert f"only go to {CAMERA_HOST}" in camera.refusal
    [entry] = AuditEvent.objects.filter(action="camera_change", detail__change="refused")
    assert entry.camera_id == camera.pk and entry.detail["via"] == "schedule"
    assert entry.detail["refused"] == camera.refusal
    assert any(camera.refusal in w for w in health_status()["warnings"])
    use_the_stored_uris(camera)
    nothing_reached(other)


def test_the_technicians_button_refuses_it_too(device, other, client):
    camera = add(device)
    hostile(device, other)
    client.force_login(User.objects.create_superuser("chief", password="a-long-pass-phrase"))
    page = client.post(
        reverse("admin:cameras_camera_changelist"),
        {"action": "reprobe_cameras", "_selected_action": [camera.pk]},
        follow=True,
    )
    assert "refused the camera&#x27;s answer" in page.content.decode()
    entry = AuditEvent.objects.get(detail__change="refused")
    assert (entry.username, entry.detail["via"]) == ("chief", "admin")
    use_the_stored_uris(camera)
    nothing_reached(other)


def test_adding_a_camera_that_names_another_host_is_refused_and_audited(device, other, client):
    hostile(device, other)
    client.force_login(User.objects.create_superuser("chief", password="a-long-pass-phrase"))
    page = client.post(
        reverse("admin:cameras_camera_add"),
        {"name": "Pole 9", "host": CAMERA_HOST, "port": device.port, "username": "admin",
         "password": PASSWORD},
    )  # fmt: skip
    assert page.status_code == 200 and "only go to 127.0.0.1" in page.content.decode()
    assert not Camera.objects.exists()
    entry = AuditEvent.objects.get(detail__change="refused")
    assert entry.target == f"ONVIF device {CAMERA_HOST}:{device.port}"
    nothing_reached(other)


def test_an_onvif_service_on_another_host_gets_no_request(device, other):
    """GetServices naming the media service elsewhere: the library would send it the
    WS-Security token (a digest of the password) with GetProfiles."""
    device.media_xaddr = f"http://{OTHER_HOST}:{other.port}/onvif/media"
    with pytest.raises(RefusedAnswer, match=r"its media service is on another host"):
        add(device)
    nothing_reached(other)


def test_a_new_port_needs_the_password_typed_again(device, client):
    camera = add(device)
    device.uris = {"main": ("rtsp://{host}:9554/main", ""), "sub": ("rtsp://{host}:9554/sub", "")}
    with pytest.raises(RefusedAnswer, match="moved to port 9554"):
        reprobe(camera)
    camera.refresh_from_db()
    assert camera.main_stream_uri == f"rtsp://{CAMERA_HOST}:8554/main" and camera.refusal

    client.force_login(User.objects.create_superuser("chief", password="a-long-pass-phrase"))
    data = {"name": camera.name, "host": CAMERA_HOST, "onvif_port": device.port,
            "username": "admin", "is_enabled": "on", "main_profile_token": "main",
            "sub_profile_token": "sub"}  # fmt: skip
    url = reverse("admin:cameras_camera_change", args=[camera.pk])
    page = client.post(url, {**data, "username": "admin2", "password": ""})
    assert "moved to port 9554" in page.content.decode()  # probed with the stored password
    assert Camera.objects.get().username == "admin"
    assert client.post(url, {**data, "password": PASSWORD}).status_code == 302
    camera.refresh_from_db()
    assert camera.main_stream_uri == f"rtsp://{CAMERA_HOST}:9554/main" and camera.refusal == ""


def test_a_stored_uri_on_another_host_never_gets_the_credentials(device, other):
    """A row re-pointed before the probe refused such answers."""
    camera = add(device)
    Camera.objects.filter(pk=camera.pk).update(
        main_stream_uri=f"rtsp://{OTHER_HOST}:{other.port}/main",
        sub_stream_uri=f"rtsp://{OTHER_HOST}:{other.port}/sub",
        snapshot_uri=f"http://{OTHER_HOST}:{other.port}/snap.jpg",
    )
    camera.refresh_from_db()
    with pytest.raises(StreamURLError, match="not on the camera's host"):
        camera.recording_url()
    with pytest.raises(StreamURLError, match="not on the camera's host"):
        camera.live_url()
    use_the_stored_uris(camera)
    nothing_reached(other)
    assert "its snapshot is on another host" in Camera.objects.get().refusal


def test_a_camera_answering_another_name_is_refused(device):
    device.uris = {"main": ("rtsp://localhost:8554/main", ""), "sub": ("", "")}
    with pytest.raises(CameraError, match=r"on another host \(rtsp://localhost:8554\)"):
        add(device)


def test_a_camera_added_by_name_may_answer_with_that_names_address(device):
    camera = add_onvif_camera("By name", "localhost", device.port, "admin", PASSWORD)
    assert camera.main_stream_uri == f"rtsp://{CAMERA_HOST}:8554/main"
    assert camera.recording_url().startswith("rtsp://admin:")
