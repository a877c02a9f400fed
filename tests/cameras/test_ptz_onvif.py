"""PTZ requests against a real ONVIF camera (ipycam). Its GetStatus answer is not valid ONVIF,
so where the camera points is read back through presets saved there."""

from cameras.onvif import probe_device, ptz_request
from tests.helpers import wait_for

TOKEN = "Profile_Main"


def call(peer, method, **params):
    with peer.netns():
        return ptz_request(
            peer.host, peer.port, peer.username, peer.password, method,
            {"ProfileToken": TOKEN, **params},
        )  # fmt: skip


def position(peer, name):
    token = call(peer, "SetPreset", PresetName=name)
    [preset] = [p for p in call(peer, "GetPresets") if p["token"] == token]
    return token, (preset["pan"], preset["tilt"], preset["zoom"])


def test_probe_says_which_profiles_can_be_steered(onvif_camera):
    with onvif_camera.netns():
        result = probe_device(
            onvif_camera.host, onvif_camera.port, onvif_camera.username, onvif_camera.password
        )
    assert all(p.ptz for p in result.profiles)


def test_move_stop_preset_and_home(onvif_camera):
    call(onvif_camera, "GotoHomePosition")
    wait_for(lambda: position(onvif_camera, "home")[1][0] == 0, timeout=10, what="home")
    call(onvif_camera, "ContinuousMove", Velocity={"PanTilt": {"x": 0.5, "y": 0.0}})
    wait_for(lambda: position(onvif_camera, "probe")[1][0] != 0, timeout=10, what="a pan")
    call(onvif_camera, "Stop", PanTilt=True, Zoom=True)
    token, stopped = position(onvif_camera, "Gate")
    assert position(onvif_camera, "again")[1] == stopped  # it stopped
    assert {"token": token, "name": "Gate"}.items() <= next(
        p for p in call(onvif_camera, "GetPresets") if p["token"] == token
    ).items()
    call(onvif_camera, "GotoHomePosition")
    wait_for(lambda: position(onvif_camera, "h")[1][0] == 0, timeout=10, what="home again")
    call(onvif_camera, "GotoPreset", PresetToken=token)
    wait_for(lambda: position(onvif_camera, "p")[1] == stopped, timeout=10, what="the preset")


def test_ptz_requests_go_only_to_the_cameras_own_host():
    import pytest

    from cameras.onvif import ONVIFError, _check_services

    _check_services({"ptz": "http://10.203.0.2:8080/onvif/ptz_service"}, "10.203.0.2")
    with pytest.raises(ONVIFError, match="on another host"):
        _check_services({"ptz": "http://203.0.113.9/onvif/ptz_service"}, "10.203.0.2")
