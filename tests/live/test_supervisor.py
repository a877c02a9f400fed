"""The live supervisor with real FFmpeg against a real RTSP camera (GStreamer)."""

import json
import os
import signal
import subprocess

import pytest

from live import state
from live.supervisor import LiveSupervisor
from recordings import ffmpeg
from tests.factories import make_camera
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def probe_width(folder) -> int:
    """Width of the newest live segment, decoded by ffprobe from init + segment."""
    names = [
        line for line in (folder / "index.m3u8").read_text().splitlines() if line.endswith(".m4s")
    ]
    media = (folder / "init.mp4").read_bytes() + (folder / names[-1]).read_bytes()
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width", "-of", "json", "-i", "pipe:0"],
        input=media,
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)["streams"][0]["width"]


@pytest.fixture
def supervisor():
    sup = LiveSupervisor()
    yield sup
    sup.shutdown()


def current(camera) -> dict:
    return state.camera_state(camera.slug) or {}


def test_first_viewer_starts_one_ffmpeg_of_the_substream_idle_stops_it(
    rtsp_server, supervisor, settings
):
    settings.LIVE_IDLE_SECONDS = 2
    server = rtsp_server(size="1280x720", bitrate=1500, sub_size="640x360")
    camera = make_camera("North", main_stream_uri=server.url, sub_stream_uri=server.sub_url)
    folder = state.stream_dir(camera.slug)

    def watching(predicate):
        return lambda: state.want(camera.slug) or predicate()

    wait_for(watching(lambda: current(camera).get("state") == "playing"), tick=supervisor.tick)
    stream = supervisor.streams[camera.pk]
    wait_for(watching(lambda: len(list(folder.glob("seg*.m4s"))) >= 2), tick=supervisor.tick)
    assert probe_width(folder) == 640  # the substream, stream-copied
    assert "-c" in stream.proc.args and "copy" in stream.proc.args
    state.want(camera.slug)  # a second viewer: the same FFmpeg
    supervisor.tick()
    assert supervisor.streams[camera.pk] is stream
    wait_for(lambda: current(camera).get("state") == "off", tick=supervisor.tick, what="idle stop")
    assert stream.proc.poll() is not None
    assert not folder.exists()  # RAM given back


def frames_received(progress) -> int:
    """The last `frame=` count FFmpeg's `-progress` file reports (0 before the first)."""
    counts = [
        int(line[6:]) for line in progress.read_text().splitlines() if line.startswith("frame=")
    ]
    return counts[-1] if counts else 0


def test_camera_refusing_another_session_is_said_clearly(rtsp_server, supervisor, tmp_path):
    server = rtsp_server(sub_size="640x360", max_sessions=1)
    camera = make_camera("Busy", main_stream_uri=server.url, sub_stream_uri=server.sub_url)
    progress = tmp_path / "progress"
    progress.touch()
    recorder = subprocess.Popen(  # the recorder's session takes the camera's only one
        [
            "ffmpeg",
            "-v",
            "error",
            "-progress",
            str(progress),
            "-rtsp_transport",
            "tcp",
            "-i",
            server.url,
            "-c",
            "copy",
            "-f",
            "null",
            "-",
        ]  # fmt: skip
    )
    try:
        # Frames arriving prove the recorder holds the session before the live view asks.
        wait_for(lambda: frames_received(progress) > 0, what="the recorder's session")
        state.want(camera.slug)
        wait_for(
            lambda: current(camera).get("state") == "unavailable",
            tick=supervisor.tick,
            what="refused",
        )
        assert "refused another video session" in current(camera)["message"]
        assert "503" in current(camera)["message"]
        assert recorder.poll() is None  # the recording session is untouched
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(10)


def test_cap_on_live_cameras(rtsp_server, supervisor, settings):
    settings.LIVE_MAX_CAMERAS = 1
    server = rtsp_server(sub_size="640x360")
    first = make_camera("First", main_stream_uri=server.url, sub_stream_uri=server.sub_url)
    second = make_camera("Second", main_stream_uri=server.url + "?2", sub_stream_uri=server.sub_url)
    state.want(first.slug)
    supervisor.tick()
    state.want(second.slug)
    wait_for(lambda: current(second).get("state") == "capped", tick=supervisor.tick, what="cap")
    assert "at most 1 camera live" in current(second)["message"]
    assert "First" in current(second)["message"]
    assert list(supervisor.streams) == [first.pk]
    os.utime(state.live_dir() / f"{first.slug}.want", (0, 0))  # First's viewers left

    def second_live():
        state.want(second.slug)
        return second.pk in supervisor.streams

    wait_for(second_live, tick=supervisor.tick, what="the waiting camera takes the free place")
    assert current(first)["state"] == "off"


def test_substream_gone_says_so_and_retries(rtsp_server, supervisor):
    server = rtsp_server(sub_size="640x360")
    camera = make_camera("Pole", main_stream_uri=server.url, sub_stream_uri=server.sub_url)
    state.want(camera.slug)
    wait_for(lambda: current(camera).get("state") == "playing", tick=supervisor.tick, what="live")
    server.stop()

    def unavailable():
        state.want(camera.slug)
        return current(camera).get("state") == "unavailable"

    wait_for(unavailable, tick=supervisor.tick, what="camera gone")
    assert current(camera)["message"].startswith(("The camera stopped", "Cannot reach"))


def test_killed_supervisor_leaves_no_ffmpeg(rtsp_server, box_env, manage_argv, live_dir):
    server = rtsp_server(sub_size="640x360")
    camera = make_camera("Orphan", main_stream_uri=server.url, sub_stream_uri=server.sub_url)
    env = {**box_env, "CRIMEBOX_LIVE_DIR": str(live_dir)}
    proc = subprocess.Popen([*manage_argv, "live"], env=env)
    try:
        state.want(camera.slug)
        wait_for(lambda: current(camera).get("state") == "playing", what="live")
        pid = current(camera)["pid"]
        proc.kill()
        proc.wait()
        wait_for(lambda: not pid_alive(pid), timeout=10, what="FFmpeg gone with its parent")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_stops_cleanly_and_one_supervisor_per_directory(
    rtsp_server, box_env, manage_argv, live_dir
):
    server = rtsp_server(sub_size="640x360")
    camera = make_camera("Clean", main_stream_uri=server.url, sub_stream_uri=server.sub_url)
    env = {**box_env, "CRIMEBOX_LIVE_DIR": str(live_dir)}
    proc = subprocess.Popen([*manage_argv, "live"], env=env)
    try:
        state.want(camera.slug)
        wait_for(lambda: state.want(camera.slug) or current(camera).get("state") == "playing")
        second = subprocess.run([*manage_argv, "live"], env=env, capture_output=True, text=True)
        assert second.returncode != 0 and "another live supervisor is running" in second.stderr
        pid = current(camera)["pid"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert not pid_alive(pid)
        assert not state.stream_dir(camera.slug).exists()  # the segments went with it
        assert not state.supervisor_running()  # the page says "live service not running"
    finally:
        if proc.poll() is None:
            proc.kill()


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_test_pattern_camera_goes_live(supervisor):
    camera = make_camera("Test", source="test", main_stream_uri="")
    folder = state.stream_dir(camera.slug)

    def live():
        state.want(camera.slug)
        return len(list(folder.glob("seg*.m4s"))) >= 1

    wait_for(live, tick=supervisor.tick, what="test pattern live")
    assert probe_width(folder) == 640


def frames_in(folder, name: str) -> int:
    media = (folder / "init.mp4").read_bytes() + (folder / name).read_bytes()
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_entries", "stream=nb_read_packets",
         "-of", "json", "-i", "pipe:0"],
        input=media, capture_output=True, check=True,
    )  # fmt: skip
    return int(json.loads(out.stdout)["streams"][0]["nb_read_packets"])


def test_first_segment_is_cut_at_the_first_keyframe(rtsp_server, supervisor):
    """The first picture waits for the first segment: one keyframe interval (25 frames), not
    two, which FFmpeg 5.1 makes of it with -hls_time alone."""
    server = rtsp_server(sub_size="640x360")  # 25 fps, a keyframe every 25 frames
    camera = make_camera("Quick", main_stream_uri=server.url, sub_stream_uri=server.sub_url)
    folder = state.stream_dir(camera.slug)

    def first_segment():
        state.want(camera.slug)
        return (folder / "seg000000.m4s").exists()

    wait_for(first_segment, tick=supervisor.tick, what="first live segment")
    assert frames_in(folder, "seg000000.m4s") <= 26


def test_a_new_demand_is_noticed_before_the_next_tick(supervisor):
    camera = make_camera("Asked", source="test", main_stream_uri="")
    supervisor.tick()
    assert not supervisor.new_demand()
    state.want(camera.slug)  # a player page opened
    assert supervisor.new_demand()
    supervisor.tick()  # started: no longer new
    assert camera.pk in supervisor.streams and not supervisor.new_demand()


def test_live_argv_is_stream_copy_into_hls(tmp_path):
    argv = ffmpeg.live_argv("rtsp://cam/sub", tmp_path, timeout_seconds=10)
    assert argv[argv.index("-c") + 1] == "copy"
    assert argv[argv.index("-hls_segment_type") + 1] == "fmp4"
    assert argv[argv.index("-hls_time") + 1] == "1"
    assert "delete_segments" in argv[argv.index("-hls_flags") + 1]
    assert argv[-1] == str(tmp_path / "index.m3u8")
