"""Camera pages: fields per camera kind, an editable (and ffprobed) RTSP URL, the RTSP error
naming the URL once, one-line locations and stills in the list, aligned add forms."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cameras.models import Camera
from tests.cameras.conftest import closed_port  # noqa: F401
from tests.factories import make_camera, make_segment
from tests.recordings.conftest import rtsp_server  # noqa: F401  (a real RTSP camera)

pytestmark = pytest.mark.django_db


def change(camera):
    return reverse("admin:cameras_camera_change", args=[camera.pk])


def test_test_pattern_camera_has_no_network_or_onvif_fields(admin_client):
    camera = make_camera("Pattern", source=Camera.Source.TEST_PATTERN, main_stream_uri="")
    page = admin_client.get(change(camera)).content.decode()
    for absent in ('name="onvif_port"', 'name="host"', 'name="password"', "Device (from ONVIF)"):
        assert absent not in page
    response = admin_client.post(
        change(camera), {"name": "Pattern 2", "location": "lab", "is_enabled": "on"}
    )
    assert response.status_code == 302
    camera.refresh_from_db()
    assert camera.name == "Pattern 2"


def test_rtsp_camera_url_is_editable_and_checked(admin_client, rtsp_server, closed_port):  # noqa: F811
    server = rtsp_server()
    camera = make_camera("Alley", main_stream_uri="rtsp://127.0.0.1:1/old")
    page = admin_client.get(change(camera)).content.decode()
    assert 'name="main_stream_uri"' in page and 'name="onvif_port"' not in page
    data = {"name": "Alley", "location": "", "is_enabled": "on", "username": "", "password": ""}
    bad = f"rtsp://127.0.0.1:{closed_port}/cam"
    response = admin_client.post(change(camera), {**data, "main_stream_uri": bad})
    body = response.content.decode()
    assert response.status_code == 200 and "ffprobe cannot open" in body
    assert body.count(bad) == 2  # the error names it once; the field shows it once
    response = admin_client.post(change(camera), {**data, "main_stream_uri": server.url})
    assert response.status_code == 302, response.content.decode()[:3000]
    camera.refresh_from_db()
    assert camera.main_stream_uri == server.url and camera.main_width == 320  # as probed
    assert camera.host == "127.0.0.1"


def test_rtsp_add_error_names_the_url_once(admin_client, closed_port):  # noqa: F811
    url = f"rtsp://127.0.0.1:{closed_port}/stream1"
    response = admin_client.post(
        reverse("admin:cameras_camera_add_rtsp"), {"name": "Gate", "url": url}
    )
    error = response.content.decode().split('class="errornote"')[1].split("</p>")[0]
    assert error.count(url) == 1, error


def test_add_forms_have_aligned_labels(admin_client):
    for name in ("add_rtsp", "add_test", "add"):
        page = admin_client.get(reverse(f"admin:cameras_camera_{name}")).content.decode()
        assert "admin/css/forms.css" in page and 'class="module aligned"' in page


def test_camera_list_has_stills_and_one_line_locations(admin_client):
    camera = make_camera("North", location="Corner of Main Street and 5th Avenue, pole 12 " * 2)
    make_segment(camera, timezone.now() - timedelta(minutes=3), seconds=2)
    make_camera("New one")
    page = admin_client.get(reverse("admin:cameras_camera_changelist")).content.decode()
    assert reverse("console:still", args=[camera.pk]) in page
    assert 'class="location" title="Corner of Main Street' in page
    assert admin_client.get(reverse("console:still", args=[camera.pk])).status_code == 200
