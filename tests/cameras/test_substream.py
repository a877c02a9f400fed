"""A plain-RTSP camera's substream for live view: add_camera --sub-rtsp and the admin field,
checked like the main URL against a real RTSP camera (GStreamer)."""

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from cameras.models import Camera

pytestmark = pytest.mark.django_db


def test_add_camera_with_sub_rtsp(rtsp_server, capsys):
    server = rtsp_server(user="op", password="Pole7-s3cret", size="1280x720", sub_size="640x360")
    call_command(
        "add_camera", "Gate", "--rtsp", server.url, "--sub-rtsp", server.sub_url,
        "--username", "op", "--password", "Pole7-s3cret",
    )  # fmt: skip
    camera = Camera.objects.get(name="Gate")
    assert camera.sub_stream_uri == server.sub_url
    assert (camera.sub_width, camera.sub_height, camera.sub_codec) == (640, 360, "h264")
    assert (camera.main_width, camera.main_height) == (1280, 720)
    assert "Pole7-s3cret" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "sub, message",
    [
        ("http://127.0.0.1/sub", "malformed RTSP URL"),
        ("rtsp://127.0.0.1:1/sub", "ffprobe cannot open rtsp://127.0.0.1:1/sub"),
        ("rtsp://other:pw@127.0.0.1:1/sub", "other credentials"),
    ],
)
def test_bad_sub_rtsp_is_refused_and_nothing_saved(rtsp_server, sub, message):
    server = rtsp_server()
    with pytest.raises(CommandError, match=message):
        call_command("add_camera", "Gate", "--rtsp", server.url, "--sub-rtsp", sub)
    assert not Camera.objects.exists()


def test_sub_rtsp_needs_rtsp():
    with pytest.raises(CommandError, match="--sub-rtsp goes with --rtsp"):
        call_command("add_camera", "T", "--test-pattern", "--sub-rtsp", "rtsp://x/sub")


def test_admin_edits_an_rtsp_cameras_substream(rtsp_server, client):
    server = rtsp_server(sub_size="640x360")
    call_command("add_camera", "Gate", "--rtsp", server.url)
    camera = Camera.objects.get()
    client.force_login(User.objects.create_superuser("root", password="x-pass-123"))
    url = f"/cameras/camera/{camera.pk}/change/"
    page = client.get(url)
    assert b'name="sub_stream_uri"' in page.content
    form = {
        "name": "Gate", "is_enabled": "on", "source": "rtsp", "onvif_port": 80,
        "host": camera.host, "sub_stream_uri": "rtsp://127.0.0.1:1/nothing",
        "main_stream_uri": camera.main_stream_uri,  # the page renders it (editable) back
    }  # fmt: skip
    refused = client.post(url, form)
    assert refused.status_code == 200 and b"ffprobe cannot open" in refused.content
    form["sub_stream_uri"] = server.sub_url
    assert client.post(url, form).status_code == 302
    camera.refresh_from_db()
    assert (camera.sub_stream_uri, camera.sub_width) == (server.sub_url, 640)
