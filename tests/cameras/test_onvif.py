"""cameras/onvif.py against a real ONVIF camera (ipycam) and real misbehaving endpoints."""

import asyncio
import logging

import pytest

from cameras.onvif import DeviceProbe, ONVIFError, Profile, probe_device, validate_host


def test_probe_reads_device_profiles_and_uris(onvif_camera, caplog):
    caplog.set_level(logging.DEBUG)
    with onvif_camera.netns():
        result = probe_device(
            onvif_camera.host, onvif_camera.port, onvif_camera.username, onvif_camera.password
        )
    assert (result.manufacturer, result.model) == ("IPyCam", "VirtualCam-1")
    assert result.serial_number == onvif_camera.serial
    assert result.firmware_version == "1.3.0"
    assert result.hardware_id
    by_token = {p.token: p for p in result.profiles}
    main, sub = by_token["Profile_Main"], by_token["Profile_Sub"]
    assert (main.encoding, main.width, main.height, main.fps) == ("h264", 640, 360, 10.0)
    assert (sub.width, sub.height, sub.fps) == (320, 180, 5.0)
    assert main.stream_uri == f"rtsp://{onvif_camera.host}:8554/video_main"
    assert sub.stream_uri == f"rtsp://{onvif_camera.host}:8554/video_sub"
    assert main.snapshot_uri.startswith(f"http://{onvif_camera.host}:8080/")
    assert result.default_profiles() == (main, sub)
    assert onvif_camera.password not in caplog.text


def test_wrong_credentials(onvif_camera, caplog):
    caplog.set_level(logging.DEBUG)
    with onvif_camera.netns(), pytest.raises(ONVIFError, match="wrong credentials") as err:
        probe_device(onvif_camera.host, onvif_camera.port, "admin", "Wrong-pass-123")
    assert "Wrong-pass-123" not in str(err.value) + caplog.text


def test_closed_port_is_unreachable(closed_port):
    with pytest.raises(ONVIFError, match="refused the connection") as err:
        probe_device("127.0.0.1", closed_port, "admin", "x-secret-1")
    assert f"127.0.0.1:{closed_port}" in str(err.value)


def test_web_server_is_not_onvif(web_server):
    with pytest.raises(ONVIFError, match="is not an ONVIF device"):
        probe_device("127.0.0.1", web_server, "admin", "x-secret-1")


def test_silent_socket_times_out(silent_port, settings, monkeypatch):
    settings.PROBE_TIMEOUT_SECONDS = 0.5
    waits = []
    real = asyncio.wait_for

    async def wait_for(aw, timeout):
        waits.append(timeout)
        return await real(aw, timeout)

    monkeypatch.setattr("cameras.onvif.asyncio.wait_for", wait_for)
    with pytest.raises(ONVIFError, match=r"did not answer within 0.5 s \(timeout\)"):
        probe_device("127.0.0.1", silent_port, "admin", "x-secret-1")
    # Every network step was bounded by the setting (how long 0.5 s takes on a loaded
    # machine is not the question; a step without a bound would be).
    assert waits and all(w == 0.5 for w in waits)


@pytest.mark.parametrize("host", ["", "http://cam", "cam host", "user:pw@cam", "-cam", "a/b"])
def test_malformed_host(host):
    with pytest.raises(ONVIFError, match="not a valid host"):
        probe_device(host, 80, "admin", "x")


@pytest.mark.parametrize("host", ["cam-1.local", "192.168.1.64", "fe80::1", "[fe80::1]"])
def test_valid_hosts(host):
    assert validate_host(host) == host.strip("[]")


def test_port_out_of_range():
    with pytest.raises(ONVIFError, match="out of range"):
        probe_device("127.0.0.1", 70000, "admin", "x")


def test_default_profiles_pick_highest_and_lowest_resolution():
    big = Profile("a", width=1920, height=1080, stream_uri="rtsp://c/1")
    mid = Profile("b", width=1280, height=720, stream_uri="rtsp://c/2")
    small = Profile("c", width=640, height=360, stream_uri="rtsp://c/3")
    probe = DeviceProbe(profiles=[mid, small, big])
    assert probe.default_profiles() == (big, small)
    assert DeviceProbe.from_dict(probe.as_dict()) == probe
    assert DeviceProbe().default_profiles() == (None, None)
