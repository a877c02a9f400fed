"""add_camera, probe_cameras, discover_cameras: real ONVIF camera, audit trail, exit codes."""

import json
import subprocess

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from cameras.models import Camera
from tests.factories import make_camera

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def test_add_onvif_camera_with_password_file(onvif_camera, tmp_path, caplog):
    secret = tmp_path / "pw"
    secret.write_text(onvif_camera.password + "\n")
    with onvif_camera.netns():
        out = run(
            "add_camera",
            "Pole 7",
            "--onvif",
            f"{onvif_camera.host}:{onvif_camera.port}",
            "--username",
            onvif_camera.username,
            "--password-file",
            str(secret),
        )
    camera = Camera.objects.get()
    assert (camera.manufacturer, camera.model, camera.serial_number) == (
        "IPyCam",
        "VirtualCam-1",
        onvif_camera.serial,
    )
    assert camera.main_stream_uri == f"rtsp://{onvif_camera.host}:8554/video_main"
    assert camera.sub_stream_uri == f"rtsp://{onvif_camera.host}:8554/video_sub"
    assert camera.password == onvif_camera.password
    assert "IPyCam VirtualCam-1" in out and camera.main_stream_uri in out
    event = AuditEvent.objects.get(action=AuditEvent.Action.CAMERA_CHANGE)
    assert (event.username, event.target, event.camera_id) == (
        "cli",
        f"camera {camera.pk}",
        camera.pk,
    )
    assert event.detail["change"] == "added"
    for text in (out, caplog.text, json.dumps(event.detail)):
        assert onvif_camera.password not in text


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--onvif", "127.0.0.1:1", "--username", "u", "--password", "Cli-pw-123"],
            "refused the connection",
        ),
        (["--onvif", "http://cam/", "--username", "u", "--password", "p"], "not a valid host"),
        (["--onvif", "cam:99999", "--username", "u", "--password", "p"], "not a port number"),
        (["--onvif", "cam"], "--onvif needs --username"),
        (["--rtsp", "rtsp//cam/live"], "malformed RTSP URL"),
        (["--rtsp", "rtsp://u:Cli-pw-123@127.0.0.1:1/live"], "ffprobe cannot open"),
        (["--test-pattern", "--password-file", "/nonexistent/pw"], "cannot read --password-file"),
    ],
)
def test_add_camera_failures(args, message):
    with pytest.raises(CommandError, match=message) as err:
        run("add_camera", "Cam", *args)
    assert "Cli-pw-123" not in str(err.value) and "\n" not in str(err.value)
    assert not Camera.objects.exists() and not AuditEvent.objects.exists()


def test_add_camera_wrong_password(onvif_camera):
    with onvif_camera.netns(), pytest.raises(CommandError, match="wrong credentials"):
        run(
            "add_camera",
            "Pole 7",
            "--onvif",
            f"{onvif_camera.host}:{onvif_camera.port}",
            "--username",
            "admin",
            "--password",
            "Wrong-pw-42",
        )
    assert not Camera.objects.exists()


def test_add_duplicate_camera():
    run("add_camera", "Pattern", "--test-pattern")
    with pytest.raises(CommandError, match="named 'Pattern' already exists"):
        run("add_camera", "Pattern", "--test-pattern")
    assert Camera.objects.count() == 1


def test_probe_cameras_updates_records_and_fails_for_broken(onvif_camera):
    good = make_camera(
        "Pole 7",
        source="onvif",
        host=onvif_camera.host,
        onvif_port=onvif_camera.port,
        username=onvif_camera.username,
        password=onvif_camera.password,
        main_stream_uri=f"rtsp://{onvif_camera.host}:8554/before",  # the port it used
        firmware_version="0.9-before-update",
    )
    with onvif_camera.netns():
        out = json.loads(run("probe_cameras", "--json"))
    changed = out[0].pop("changed")
    assert {"firmware_version", "main_stream_uri", "model"} <= set(changed)
    assert out == [
        {
            "id": good.pk,
            "name": "Pole 7",
            "ok": True,
            "manufacturer": "IPyCam",
            "model": "VirtualCam-1",
            "main_stream_uri": f"rtsp://{onvif_camera.host}:8554/video_main",
            "sub_stream_uri": f"rtsp://{onvif_camera.host}:8554/video_sub",
        }
    ]
    good.refresh_from_db()
    assert good.serial_number == onvif_camera.serial and good.probed_at is not None
    event = AuditEvent.objects.get(username="cli", camera=good)
    old, new = event.detail["changed"]["firmware_version"]
    assert old == "0.9-before-update" and new == good.firmware_version != old
    with onvif_camera.netns():
        again = json.loads(run("probe_cameras", "--json"))
    assert again[0]["changed"] == []  # nothing changed since

    make_camera("Broken", source="onvif", host="127.0.0.1", onvif_port=1, main_stream_uri="")
    with onvif_camera.netns(), pytest.raises(CommandError, match=r"1 of 2 cameras failed"):
        run("probe_cameras")
    assert "refused" in Camera.objects.get(name="Broken").last_error


def test_scheduled_reprobe_audits_only_changes(onvif_camera):
    from cameras.tasks import reprobe_task

    camera = make_camera(
        "Pole 7",
        source="onvif",
        host=onvif_camera.host,
        onvif_port=onvif_camera.port,
        username=onvif_camera.username,
        password=onvif_camera.password,
        main_stream_uri=f"rtsp://{onvif_camera.host}:8554/before",  # the port it used
        serial_number="SWAPPED-OUT-1",
    )
    make_camera("Off", source="onvif", host="127.0.0.1", onvif_port=1, is_enabled=False)
    gone = make_camera("Gone", source="onvif", host="127.0.0.1", onvif_port=2, status="recording")
    with onvif_camera.netns():
        assert reprobe_task() == "1 probed, 1 changed, 1 failed"
        assert reprobe_task() == "1 probed, 0 changed, 1 failed"
    gone.refresh_from_db()
    assert gone.last_error == ""  # the recorder's status and error are left alone
    [event] = AuditEvent.objects.filter(camera=camera, username="system")
    assert event.detail["changed"]["serial_number"] == ["SWAPPED-OUT-1", onvif_camera.serial]


def test_discover_cameras_json(onvif_camera):
    with onvif_camera.netns():
        out = json.loads(run("discover_cameras", "--timeout", "1", "--json"))
    assert [(d["host"], d["port"], d["name"]) for d in out] == [
        (onvif_camera.host, onvif_camera.port, onvif_camera.name)
    ]


def test_discover_cameras_rejects_bad_timeout():
    with pytest.raises(CommandError, match="--timeout"):
        run("discover_cameras", "--timeout", "0")


def test_failure_exits_non_zero_with_one_line(box_env, manage_argv):
    proc = subprocess.run(
        [*manage_argv, "add_camera", "Cam", "--rtsp", "not-a-url"],
        env=box_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "CommandError: malformed RTSP URL (expected rtsp://host[:port]/path): not-a-url"
    ]
