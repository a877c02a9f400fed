"""An ONVIF camera (ipycam) live: its sub profile chosen at add time, its snapshot URI."""

import pytest

from cameras.services import add_onvif_camera
from live import state, stills
from live.supervisor import LiveSupervisor
from tests.helpers import wait_for
from tests.live.test_supervisor import probe_width

pytestmark = pytest.mark.django_db(transaction=True)


def test_onvif_camera_live_from_its_sub_profile_still_from_its_snapshot(onvif_camera):
    cam = onvif_camera
    with cam.netns():  # this thread, and the FFmpeg it starts, inside the camera's network
        camera = add_onvif_camera("Pole 7", cam.host, cam.port, cam.username, cam.password)
        assert camera.sub_profile_token == "Profile_Sub"
        supervisor = LiveSupervisor()
        folder = state.stream_dir(camera.slug)

        def live():
            state.want(camera.slug)
            return len(list(folder.glob("seg*.m4s"))) >= 1

        try:
            wait_for(live, timeout=40, tick=supervisor.tick, what="ONVIF substream live")
            assert probe_width(folder) == 320  # ipycam's Profile_Sub, not the 640 main
            still = stills.snapshot(camera)
        finally:
            supervisor.shutdown()
    assert still is not None and still.startswith(b"\xff\xd8")
