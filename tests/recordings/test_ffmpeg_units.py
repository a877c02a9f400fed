"""Pure parts of the recorder: argv builders, segment-list parsing, exit causes."""

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from crimebox.ffrun import with_parent_death_signal
from recordings import ffmpeg
from recordings.gaps import classify_exit
from recordings.models import Gap
from recordings.recorder import Supervisor
from tests.factories import make_camera


def test_record_argv_is_stream_copy_over_tcp_with_timeout_and_clock_segments():
    argv = ffmpeg.record_argv(
        "rtsp://cam/1", "/r/20261124T141500Z-%06d.mp4", segment_seconds=900, timeout_seconds=10
    )
    joined = " ".join(argv)
    assert "-rtsp_transport tcp" in joined and "-timeout 10000000" in joined
    assert "-c copy" in joined and "libx264" not in joined
    assert "-map 0:v:0" in joined and "0:a" not in joined
    assert "-segment_time 900 -segment_atclocktime 1" in joined
    assert "-segment_list pipe:1 -segment_list_type csv" in joined
    assert "-stats_period 1 -progress pipe:1" in joined  # the watchdog's sign of life
    assert "frag_keyframe" in joined and "flush_packets=1" in joined
    assert argv[-1] == "/r/20261124T141500Z-%06d.mp4"
    assert "-strftime" not in argv  # names from the clock repeat when it steps back
    with_audio = ffmpeg.record_argv(
        "rtsp://cam/1", "/r/x.mp4", segment_seconds=60, timeout_seconds=5, audio=True
    )
    assert "0:a:0?" in with_audio


def test_credentials_are_read_from_a_private_listing_never_from_argv(settings):
    """FFmpeg has no RTSP credential option: the URL goes in a 0600 file, never in argv."""
    url = "rtsp://admin:Pa%27ss%21w0rd@cam:8554/live/1"
    argv = ffmpeg.record_argv(url, "/r/x-%06d.mp4", segment_seconds=60, timeout_seconds=10)
    assert not any("Pa" in a or "admin" in a for a in argv)
    listing = Path(argv[argv.index("-i") + 1])
    assert " -f concat -safe 0 -fflags +genpts -i " in " ".join(argv)
    assert listing.stat().st_mode & 0o777 == 0o600
    assert listing.parent.stat().st_mode & 0o777 == 0o700
    assert listing.read_text() == (
        f"ffconcat version 1.0\nfile '{url}'\noption rtsp_transport tcp\noption timeout 10000000\n"
    )
    assert listing.name.startswith("cam-8554-live-1-")  # FFmpeg's errors start with it
    live = ffmpeg.live_argv(url, Path("/run/x"), timeout_seconds=10)
    assert live[live.index("-i") + 1] == str(listing)  # one listing per stream


def test_test_pattern_argv_encodes_with_a_clock(monkeypatch):
    argv = ffmpeg.test_pattern_argv("/r/x.mp4", segment_seconds=60)
    joined = " ".join(argv)
    assert "lavfi" in joined and "-re" in joined and "libx264" in joined
    # The font is installed with the box (fonts-dejavu-core): the clock is drawn.
    overlay = argv[argv.index("-vf") + 1]
    assert overlay.startswith(f"drawtext=fontfile={ffmpeg.TEST_PATTERN_FONT}:")
    assert "text=%{gmtime} UTC" in overlay

    # The clock really changes the picture: one frame with and without the filter.
    def frame_md5(vf: str) -> str:
        return subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10"]
            + ["-vf", vf, "-frames:v", "1", "-f", "md5", "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert frame_md5(overlay) != frame_md5("null")
    # Without the font FFmpeg would refuse drawtext: the pattern is recorded without a clock.
    monkeypatch.setattr(ffmpeg, "TEST_PATTERN_FONT", "/nonexistent/font.ttf")
    bare = ffmpeg.test_pattern_argv("/r/x.mp4", segment_seconds=60)
    assert bare[bare.index("-vf") + 1] == "null"


@pytest.mark.parametrize(
    "line,expected",
    [
        ("20261124T141500Z.mp4,0.000000,900.040000\n", ("20261124T141500Z.mp4", 0.0, 900.04)),
        ('"20261124T141500Z.mp4",1.5,2.5', ("20261124T141500Z.mp4", 1.5, 2.5)),
        ("", None),
        ("garbage", None),
        ("a,b,c", None),
    ],
)
def test_parse_segment_list_line(line, expected):
    parsed = ffmpeg.parse_segment_list_line(line)
    assert (None if parsed is None else (parsed.name, parsed.start, parsed.end)) == expected


@pytest.mark.parametrize(
    "line,expected",
    [
        ("frame=55\n", ("frame", "55")),
        ("out_time_us=2120078", ("out_time_us", "2120078")),
        ("progress=continue", None),  # says nothing of how far
        ("bitrate=N/A", None),
        ("20261124T141500Z-000001.mp4,0.0,2.0", None),
        ("", None),
    ],
)
def test_parse_progress_line(line, expected):
    assert ffmpeg.parse_progress_line(line) == expected


@pytest.mark.parametrize(
    "error,code,cause",
    [
        ("rtsp://cam/1: Connection refused", 1, Gap.Cause.CAMERA_UNREACHABLE),
        ("method DESCRIBE failed: 401 Unauthorized", 1, Gap.Cause.CAMERA_UNREACHABLE),
        ("av_interleaved_write_frame(): No space left on device", 1, Gap.Cause.DISK_FULL),
        ("", 0, Gap.Cause.CAMERA_UNREACHABLE),  # the camera ended the stream
        (
            "[NULL @ 0x5555] missing picture in access unit with size 6",
            0,
            Gap.Cause.CAMERA_UNREACHABLE,
        ),
        ("", -9, Gap.Cause.FFMPEG_EXITED),
        ("Invalid data found when processing input", 1, Gap.Cause.FFMPEG_EXITED),
    ],
)
def test_classify_exit(error, code, cause):
    assert classify_exit(error, code) == cause


def test_children_get_a_parent_death_signal():
    argv = with_parent_death_signal(["ffmpeg", "-version"])
    assert argv[0].endswith("setpriv") and argv[1:4] == ["--pdeathsig", "TERM", "--"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["{stamp}Z.mp4", "{stamp}Z-000007.mp4"])
def test_never_starts_a_run_whose_names_exist(settings, name):
    camera = make_camera()
    now = time.time()
    moment = datetime.fromtimestamp(now, UTC)
    folder = settings.RECORDINGS_DIR / camera.slug / f"{moment:%Y-%m-%d}"
    assert not Supervisor.name_taken(camera, now)
    folder.mkdir(parents=True)
    (folder / name.format(stamp=f"{moment:%Y%m%dT%H%M%S}")).write_bytes(b"evidence")
    assert Supervisor.name_taken(camera, now)  # an old run's or an old clock-named file
    assert not Supervisor.name_taken(camera, now + 1)


@pytest.mark.django_db
def test_test_pattern_size_and_rate_come_from_the_settings(settings):
    # The emulated arm64 check (deploy/arm64-check.sh) records a smaller, slower picture.
    from live.stream import Stream
    from recordings.run import Run

    settings.TEST_PATTERN_SIZE, settings.TEST_PATTERN_FPS = "320x240", 5
    camera = make_camera(source="test")
    live = Stream.argv(SimpleNamespace(dir=Path("/l")), camera)  # type: ignore[arg-type]
    for argv in (Run.argv(camera, "/r/x.mp4"), live):
        assert "testsrc2=size=320x240:rate=5" in argv and argv[argv.index("-g") + 1] == "5"
