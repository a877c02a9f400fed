"""Clock steps under the recorder: libfaketime on the real FFmpeg, a real RTSP camera.

A Pi has no battery clock: after a power cut it boots with a saved time and NTP steps it,
backwards too. No step may overwrite a closed, hashed segment.
"""

import shutil
import time
from pathlib import Path

import pytest

from recordings.evidence.integrity import verify_segments
from recordings.index import relative_path
from recordings.models import Gap, Segment
from recordings.recorder import Supervisor
from tests.factories import make_camera
from tests.helpers import wait_for

from .conftest import InlineExecutor

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


@pytest.fixture
def short_segments(settings):
    settings.SEGMENT_SECONDS = 2
    settings.STALL_SECONDS = 4
    settings.RTSP_TIMEOUT_SECONDS = 5


@pytest.fixture
def ffmpeg_clock(tmp_path, settings):
    """FFmpeg runs with its wall clock offset by what this file says ("+0", "-8", ...).
    The monotonic clock is left alone, as when NTP steps the system clock."""
    if not FAKETIME.exists():
        pytest.skip("libfaketime is needed (deploy/bootstrap.sh test installs faketime)")
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    wrapper = tmp_path / "ffmpeg-faketime"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"export LD_PRELOAD={FAKETIME} FAKETIME_TIMESTAMP_FILE={offset} "
        "FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1\n"
        f'exec {shutil.which(settings.FFMPEG)} "$@"\n'
    )
    wrapper.chmod(0o755)
    settings.FFMPEG = str(wrapper)
    return offset


def segments(camera):
    return list(Segment.objects.filter(camera=camera).chained().order_by("sequence"))


def files_and_rows(camera, settings):
    files = {relative_path(p) for p in (settings.RECORDINGS_DIR / camera.slug).rglob("*.mp4")}
    rows = set(Segment.objects.filter(camera=camera).values_list("path", flat=True))
    return files, rows


def test_ffmpeg_clock_stepped_back_overwrites_nothing(
    rtsp_server, short_segments, ffmpeg_clock, settings
):
    camera = make_camera(main_stream_uri=rtsp_server().url)
    supervisor = Supervisor(executor=InlineExecutor(), sync_interval=0.5)
    try:
        wait_for(lambda: len(segments(camera)) >= 5, tick=supervisor.tick, timeout=60)
        run = supervisor.runs[camera.pk]
        # 8 s back reaches the names of four closed segments; an hour back, the boot case.
        for offset in ("-8", "-3600"):
            ffmpeg_clock.write_text(f"{offset}\n")
            count = len(segments(camera))
            wait_for(
                lambda count=count: len(segments(camera)) >= count + 4,
                tick=supervisor.tick,
                timeout=60,
                what=f"4 segments after a step of {offset} s",
            )
        # The watchdog followed the file FFmpeg writes, not the newest name: no restart.
        assert supervisor.runs[camera.pk] is run
    finally:
        supervisor.shutdown(grace=5)
    assert not Gap.objects.filter(camera=camera).exclude(cause=Gap.Cause.RECORDER_DOWN).exists()
    check = verify_segments(camera)
    assert check.ok, check.problems  # every earlier segment still verifies
    files, rows = files_and_rows(camera, settings)
    assert files == rows  # and every file FFmpeg wrote is indexed, none rewritten in place
    for segment in segments(camera):
        assert segment.abs_path.stat().st_mode & 0o777 == 0o444  # closed: read-only


def test_box_clock_stepped_back_an_hour_is_an_event_and_flags_what_it_made_wrong(
    rtsp_server, short_segments, ffmpeg_clock, settings
):
    offset = [0.0]
    camera = make_camera(main_stream_uri=rtsp_server().url)
    supervisor = Supervisor(
        executor=InlineExecutor(), sync_interval=0.5, clock=lambda: time.time() + offset[0]
    )
    try:
        wait_for(lambda: len(segments(camera)) >= 4, tick=supervisor.tick, timeout=60)
        run = supervisor.runs[camera.pk]
        before = segments(camera)
        offset[0] = -3600.0  # the recorder's and FFmpeg's clocks step together, as on a box
        ffmpeg_clock.write_text("-3600\n")
        wait_for(
            lambda: len(segments(camera)) >= len(before) + 3,
            tick=supervisor.tick,
            timeout=60,
            what="3 segments after the step",
        )
        assert supervisor.runs[camera.pk] is run
    finally:
        supervisor.shutdown(grace=5)
    step = Gap.objects.get(camera=camera, cause=Gap.Cause.CLOCK_STEP)
    assert (step.end - step.start).total_seconds() == pytest.approx(3600, abs=3)
    assert "back 3600" in step.detail and "recorded twice" in step.detail
    assert verify_segments(camera).ok
    for segment in before:
        segment.refresh_from_db()
        assert segment.clock_synced is False and "stepped back 3600" in segment.note
    after = [s for s in segments(camera) if s.sequence > before[-1].sequence + 1]
    assert after and all(s.start < before[0].start for s in after)  # on the new clock
    for prev, seg in zip(after, after[1:], strict=False):
        assert abs((seg.start - prev.end).total_seconds()) < 0.1  # one consistent clock
    assert not Gap.objects.filter(camera=camera, cause=Gap.Cause.STALLED).exists()
