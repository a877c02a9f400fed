"""The camera password is in no FFmpeg's command line: the recorder's and
the live FFmpeg, reading a real camera that requires authentication (GStreamer RTSP server),
record and stream while /proc/PID/cmdline, which every user of the box may read unless /proc
is mounted with hidepid, carries neither the password nor the user name."""

from pathlib import Path
from urllib.parse import quote

import pytest

from live import state
from live.supervisor import LiveSupervisor
from recordings.models import Segment
from recordings.recorder import Supervisor
from tests.factories import make_camera
from tests.helpers import wait_for

from .conftest import InlineExecutor

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "Argv-s3cr3t!pw"


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def assert_no_secret(pid: int) -> None:
    argv = cmdline(pid)
    assert "ffmpeg" in argv and " -i " in argv
    for secret in (PASSWORD, quote(PASSWORD, safe=""), "rtsp-user"):
        assert secret not in argv


def test_the_recorders_ffmpeg_has_no_password_in_its_argv(rtsp_server, settings):
    settings.SEGMENT_SECONDS = 2
    server = rtsp_server(user="rtsp-user", password=PASSWORD)
    camera = make_camera(main_stream_uri=server.url, username="rtsp-user", password=PASSWORD)
    supervisor = Supervisor(executor=InlineExecutor(), sync_interval=0.5)
    try:
        run = wait_for(lambda: supervisor.runs.get(camera.pk), tick=supervisor.tick, what="run")
        assert_no_secret(run.proc.pid)
        wait_for(
            lambda: Segment.objects.filter(camera=camera).chained().count() >= 2,
            tick=supervisor.tick,
            what="2 segments recorded with the password",
        )
        assert_no_secret(run.proc.pid)  # the same FFmpeg, recording
    finally:
        supervisor.shutdown(grace=5)


def test_the_live_ffmpeg_has_no_password_in_its_argv(rtsp_server, settings, tmp_path):
    settings.LIVE_DIR = str(tmp_path / "live")
    server = rtsp_server(user="rtsp-user", password=PASSWORD)
    camera = make_camera(main_stream_uri=server.url, username="rtsp-user", password=PASSWORD)
    supervisor = LiveSupervisor()
    folder = state.stream_dir(camera.slug)

    def live() -> bool:
        state.want(camera.slug)
        return len(list(folder.glob("seg*.m4s"))) >= 1

    try:
        wait_for(live, timeout=40, tick=supervisor.tick, what="live segments")
        assert_no_secret(supervisor.streams[camera.pk].proc.pid)
    finally:
        supervisor.shutdown()
