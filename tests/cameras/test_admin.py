"""The camera admin with the Django test client: add by ONVIF (probe, pick profiles, save),
by RTSP URL and test pattern; errors on the form, nothing half-saved, no password rendered."""

import json
import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from audit.models import AuditEvent
from cameras.models import Camera
from crimebox.signature import from_body
from sync import sender
from sync.models import OutboxItem
from tests.factories import make_camera

ADD = "admin:cameras_camera_add"
pytestmark = pytest.mark.django_db


def _probe_post(peer, **over):
    data = {
        "step": "probe",
        "name": "Pole 7",
        "location": "Main St & 3rd",
        "host": peer.host,
        "port": peer.port,
        "username": peer.username,
        "password": peer.password,
    }
    return {**data, **over}


def test_add_onvif_camera_probe_choose_profiles_save(admin_client, onvif_camera, caplog):
    caplog.set_level(logging.DEBUG)
    page = admin_client.get(reverse(ADD))
    assert page.status_code == 200 and b"Probe camera" in page.content
    with onvif_camera.netns():
        found = admin_client.post(reverse(ADD), _probe_post(onvif_camera))
    html = found.content.decode()
    assert found.status_code == 200, html
    for text in (
        "IPyCam",
        "VirtualCam-1",
        onvif_camera.serial,
        "Profile_Main",
        "Profile_Sub",
        f"rtsp://{onvif_camera.host}:8554/video_main",
        "Save camera",
    ):
        assert text in html
    assert not Camera.objects.exists()  # nothing saved before the user picks profiles

    # The user swaps the defaults: records the sub stream, views the main one.
    saved = admin_client.post(
        reverse(ADD), {"step": "save", "main_profile": "Profile_Sub", "sub_profile": "Profile_Main"}
    )
    camera = Camera.objects.get()
    assert saved.status_code == 302
    assert saved.url == reverse("admin:cameras_camera_change", args=[camera.pk])
    assert (camera.source, camera.host, camera.onvif_port) == ("onvif", onvif_camera.host, 8080)
    assert (camera.manufacturer, camera.model) == ("IPyCam", "VirtualCam-1")
    assert camera.serial_number == onvif_camera.serial and camera.firmware_version == "1.3.0"
    assert camera.main_stream_uri.endswith("/video_sub") and camera.main_width == 320
    assert camera.sub_stream_uri.endswith("/video_main") and camera.sub_width == 640
    assert camera.password == onvif_camera.password and camera.location == "Main St & 3rd"
    assert LogEntry.objects.filter(object_id=str(camera.pk)).exists()

    change = admin_client.get(saved.url).content.decode()
    assert "VirtualCam-1" in change and camera.main_stream_uri in change
    stored = [
        camera.main_stream_uri,
        camera.sub_stream_uri,
        camera.snapshot_uri,
        json.dumps(camera.profiles),
    ]
    for text in (html, change, caplog.text, *stored):
        assert onvif_camera.password not in text


def test_default_profiles_preselected(admin_client, onvif_camera):
    with onvif_camera.netns():
        found = admin_client.post(reverse(ADD), _probe_post(onvif_camera))
    form = found.context["form"]
    assert form["main_profile"].value() == "Profile_Main"
    assert form["sub_profile"].value() == "Profile_Sub"


def test_wrong_credentials_shown_on_form(admin_client, onvif_camera, caplog):
    caplog.set_level(logging.DEBUG)
    with onvif_camera.netns():
        page = admin_client.post(reverse(ADD), _probe_post(onvif_camera, password="Nope-9999"))
    html = page.content.decode()
    assert page.status_code == 200 and "wrong credentials" in html
    assert "Nope-9999" not in html + caplog.text
    assert not Camera.objects.exists()


def test_unreachable_and_not_onvif_and_timeout_on_form(
    admin_client, closed_port, web_server, silent_port, settings
):
    settings.PROBE_TIMEOUT_SECONDS = 0.5
    for port, message in (
        (closed_port, "refused the connection"),
        (web_server, "is not an ONVIF device"),
        (silent_port, "(timeout)"),
    ):
        page = admin_client.post(
            reverse(ADD),
            {
                "step": "probe",
                "name": "X",
                "host": "127.0.0.1",
                "port": port,
                "username": "u",
                "password": "p",
            },
        )
        assert message in page.content.decode(), port
    assert not Camera.objects.exists()


def test_malformed_host_on_form(admin_client):
    page = admin_client.post(
        reverse(ADD), {"step": "probe", "name": "X", "host": "http://cam/", "port": 80}
    )
    assert "not a valid host name" in page.content.decode()


def test_duplicates_on_form(admin_client, onvif_camera):
    make_camera("Pole 7", source="onvif", host="10.0.0.9", onvif_port=80)
    make_camera("Other", source="onvif", host=onvif_camera.host, onvif_port=onvif_camera.port)
    with onvif_camera.netns():
        by_name = admin_client.post(reverse(ADD), _probe_post(onvif_camera))
        by_address = admin_client.post(reverse(ADD), _probe_post(onvif_camera, name="New"))
    assert "a camera named &#x27;Pole 7&#x27; already exists" in by_name.content.decode()
    assert f"already uses ONVIF address {onvif_camera.host}:8080" in by_address.content.decode()
    assert Camera.objects.count() == 2


def test_save_without_probe_redirects_to_start(admin_client):
    page = admin_client.post(reverse(ADD), {"step": "save", "main_profile": "a"})
    assert page.status_code == 302 and page.url == reverse(ADD)
    assert not Camera.objects.exists()


def test_change_form_never_renders_password_and_blank_keeps_it(admin_client):
    camera = make_camera("RTSP cam", username="op", password="Keep-this-pw-1")
    url = reverse("admin:cameras_camera_change", args=[camera.pk])
    page = admin_client.get(url).content.decode()
    assert "Keep-this-pw-1" not in page and 'name="password"' in page
    form = page.split('name="password"')[1].split(">")[0]
    assert "value" not in form
    data = {
        "name": "RTSP cam renamed",
        "location": "",
        "host": "",
        "onvif_port": 80,
        "username": "op",
        "password": "",
        "is_enabled": "on",
        "main_profile_token": "",
        "sub_profile_token": "",
        "main_stream_uri": camera.main_stream_uri,  # as the page renders it back
    }
    assert admin_client.post(url, data).status_code == 302
    camera.refresh_from_db()
    assert (camera.name, camera.password) == ("RTSP cam renamed", "Keep-this-pw-1")
    assert admin_client.post(url, {**data, "password": "New-pw-2"}).status_code == 302
    camera.refresh_from_db()
    assert camera.password == "New-pw-2"
    # The audit trail keeps old and new values, never a credential.
    renamed, new_password = (
        e.detail["changes"]
        for e in AuditEvent.objects.filter(action="camera_change", camera=camera).order_by(
            "sequence"
        )
    )
    assert "name 'RTSP cam' -> 'RTSP cam renamed'" in renamed
    assert "password changed" in new_password
    assert "New-pw-2" not in new_password and "Keep-this-pw-1" not in renamed


def test_change_list_shows_columns_and_redacted_error(admin_client):
    make_camera(
        "Gate",
        location="North gate",
        manufacturer="Axis",
        model="P1448",
        last_error="rtsp://op:Leak-pw-77@10.0.0.5/stream: 401 Unauthorized",
        password="Leak-pw-77",
    )
    page = admin_client.get(reverse("admin:cameras_camera_changelist")).content.decode()
    for text in ("Gate", "North gate", "Axis P1448", "rtsp://10.0.0.5/stream: 401"):
        assert text in page
    assert "Leak-pw-77" not in page


def test_reprobe_action(admin_client, onvif_camera):
    camera = make_camera(
        "Pole 7",
        source="onvif",
        host=onvif_camera.host,
        onvif_port=onvif_camera.port,
        username=onvif_camera.username,
        password=onvif_camera.password,
        main_stream_uri=f"rtsp://{onvif_camera.host}:8554/before",  # the port it used
    )
    broken = make_camera(
        "Broken",
        source="onvif",
        host="127.0.0.1",
        onvif_port=1,
        username="u",
        password="Broken-pw-1",
        main_stream_uri="",
    )
    with onvif_camera.netns():
        page = admin_client.post(
            reverse("admin:cameras_camera_changelist"),
            {"action": "reprobe_cameras", "_selected_action": [camera.pk, broken.pk]},
            follow=True,
        )
    html = page.content.decode()
    assert "Re-probed 1 camera(s)." in html and "Broken: 127.0.0.1:1" in html
    camera.refresh_from_db()
    broken.refresh_from_db()
    assert camera.model == "VirtualCam-1" and camera.main_stream_uri.endswith("/video_main")
    assert "refused the connection" in broken.last_error
    event = AuditEvent.objects.get(action="camera_change", camera=camera)
    assert "main_stream_uri 'rtsp://10.203.0.2:8554/before' -> 'rtsp://" in str(
        event.detail["changes"]
    )


def test_add_rtsp_url_ffprobe_cannot_open(admin_client, closed_port):
    page = admin_client.post(
        reverse("admin:cameras_camera_add_rtsp"),
        {"name": "Door", "url": f"rtsp://op:Rtsp-pw-55@127.0.0.1:{closed_port}/live"},
    )
    html = page.content.decode()
    assert "ffprobe cannot open rtsp://127.0.0.1:" in html
    assert "Rtsp-pw-55" not in html
    assert not Camera.objects.exists()


def test_add_rtsp_malformed_url(admin_client):
    page = admin_client.post(
        reverse("admin:cameras_camera_add_rtsp"), {"name": "Door", "url": "http://cam/live"}
    )
    assert "malformed RTSP URL" in page.content.decode()
    assert not Camera.objects.exists()


def test_add_test_pattern(admin_client):
    page = admin_client.post(reverse("admin:cameras_camera_add_test"), {"name": "Pattern"})
    assert page.status_code == 302
    assert Camera.objects.get().source == Camera.Source.TEST_PATTERN
    again = admin_client.post(reverse("admin:cameras_camera_add_test"), {"name": "pattern"})
    assert "already exists" in again.content.decode()


def test_placing_a_camera_on_its_change_form_replicates_its_position(admin_client):
    """What the console's map draws comes from the camera's `cameras` document: saving the
    technician's coordinates writes a new one; an impossible coordinate is refused, unsaved."""
    camera = make_camera("Pattern", source=Camera.Source.TEST_PATTERN, main_stream_uri="")
    url = reverse("admin:cameras_camera_change", args=[camera.pk])
    form = {"name": "Pattern", "location": "Pole 7", "is_enabled": "on"}
    place = {"latitude": "41.878113", "longitude": "-87.629799", "facing_degrees": "135"}

    def documents() -> list[dict]:
        rows = OutboxItem.objects.filter(kind="camera").order_by("pk")
        return [from_body(row.body) for row in rows]

    refused = admin_client.post(url, {**form, **place, "latitude": "95"})
    assert refused.status_code == 200 and "less than or equal to 90" in refused.content.decode()
    assert documents() == [] and Camera.objects.get().latitude is None
    assert admin_client.post(url, {**form, **place}).status_code == 302
    (doc,) = documents()
    assert (doc["camera_id"], doc["latitude"], doc["longitude"], doc["facing_degrees"]) == (
        camera.pk,
        "41.878113",
        "-87.629799",
        135,
    )
    assert admin_client.post(url, {**form, **place}).status_code == 302
    assert len(documents()) == 1  # saved again unchanged: the same document, written once


def test_moving_a_camera_back_replicates_the_move_back(admin_client):
    """Pole 7 → Pole 9 → Pole 7 is three changes: the third is a new document (same revision as
    the first), or the console would keep showing Pole 9. Saving unchanged, or the sender's
    re-report of every camera, still writes nothing."""
    camera = make_camera("Pattern", source=Camera.Source.TEST_PATTERN, main_stream_uri="")
    url = reverse("admin:cameras_camera_change", args=[camera.pk])

    def place(location: str) -> None:
        form = {"name": "Pattern", "location": location, "is_enabled": "on"}
        assert admin_client.post(url, form).status_code == 302

    def documents() -> list[dict]:
        rows = OutboxItem.objects.filter(kind="camera").order_by("pk")
        return [from_body(row.body) for row in rows]

    for location in ("Pole 7", "Pole 9", "Pole 7", "Pole 7"):
        place(location)
    sender.ensure_registration()
    first, second, third = documents()
    assert [d["location"] for d in (first, second, third)] == ["Pole 7", "Pole 9", "Pole 7"]
    assert third["revision"] == first["revision"] != second["revision"]
    assert len({first["_id"], second["_id"], third["_id"]}) == 3
    assert first["_id"] == f"{first['box']}:camera:{camera.pk}:{first['revision']}"


def test_discover_page_lists_camera_with_add_link(admin_client, onvif_camera, monkeypatch):
    monkeypatch.setattr("cameras.admin_views.DISCOVERY_SECONDS", 1.0)
    with onvif_camera.netns():
        page = admin_client.get(reverse("admin:cameras_camera_discover"))
    html = page.content.decode()
    assert f"{onvif_camera.host}:{onvif_camera.port}" in html
    assert onvif_camera.name in html
    assert f"?host={onvif_camera.host}&amp;port=8080&amp;name=Pole+7+test+cam" in html
    prefilled = admin_client.get(f"{reverse(ADD)}?host={onvif_camera.host}&port=8080&name=P7")
    assert prefilled.context["form"]["host"].value() == onvif_camera.host


def test_add_pages_need_add_permission(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(user)
    for name in (ADD, "admin:cameras_camera_add_rtsp", "admin:cameras_camera_discover"):
        assert client.get(reverse(name)).status_code == 403


def _change_data(camera, **over):
    data = {
        "name": camera.name,
        "location": "",
        "host": camera.host,
        "onvif_port": camera.onvif_port,
        "username": camera.username,
        "password": "",
        "is_enabled": "on",
        "main_profile_token": camera.main_profile_token,
        "sub_profile_token": camera.sub_profile_token,
    }
    return {**data, **over}


def test_change_onvif_endpoint_is_probed_before_saving(admin_client, onvif_camera, closed_port):
    with onvif_camera.netns():
        admin_client.post(reverse(ADD), _probe_post(onvif_camera))
        admin_client.post(
            reverse(ADD),
            {"step": "save", "main_profile": "Profile_Main", "sub_profile": "Profile_Sub"},
        )
    camera = Camera.objects.get()
    url = reverse("admin:cameras_camera_change", args=[camera.pk])
    # A new address needs the password typed again, then it is probed.
    data = _change_data(camera, host="127.0.0.1", onvif_port=closed_port)
    assert "type its password again" in admin_client.post(url, data).content.decode()
    bad = admin_client.post(url, {**data, "password": onvif_camera.password})
    assert "refused the connection" in bad.content.decode()
    camera.refresh_from_db()
    assert camera.host == onvif_camera.host  # nothing half-saved

    # Same endpoint, blank password: no probe needed, the profile swap uses stored profiles.
    swapped = admin_client.post(
        url,
        _change_data(camera, main_profile_token="Profile_Sub", sub_profile_token="Profile_Main"),
    )
    assert swapped.status_code == 302
    camera.refresh_from_db()
    assert camera.main_stream_uri.endswith("/video_sub") and camera.main_width == 320
    assert camera.password == onvif_camera.password
