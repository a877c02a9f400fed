"""The supervisor against real FFmpeg recording a real RTSP server (GStreamer)."""

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cameras.models import Camera
from crimebox import ffprobe
from crimebox.hashing import GENESIS, sha256_file
from recordings import heartbeat
from recordings.evidence.hashing import segment_chain_hash
from recordings.index import NAME_RE
from recordings.models import Gap, Segment
from recordings.recorder import Supervisor
from tests.factories import make_camera

from .conftest import InlineExecutor, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "s3cr3t-p@ss"


@pytest.fixture
def short_segments(settings):
    settings.SEGMENT_SECONDS = 2
    settings.STALL_SECONDS = 4
    settings.RTSP_TIMEOUT_SECONDS = 5


@pytest.fixture
def supervisor():
    sup = Supervisor(executor=InlineExecutor(), sync_interval=0.5)
    yield sup
    sup.shutdown(grace=5)


def segments(camera, **kw):
    """The camera's closed (chained) segments."""
    return list(Segment.objects.filter(camera=camera, **kw).chained().order_by("sequence"))


def assert_chain(camera):
    prev = GENESIS
    for seg in segments(camera):
        assert seg.chain_hash == segment_chain_hash(
            camera_id=camera.pk,
            sequence=seg.sequence,
            prev=prev,
            sha256=seg.sha256,
            start=seg.start,
            end=seg.end,
            size=seg.size,
        )
        prev = seg.chain_hash


def test_records_clock_aligned_hashed_chained_segments(
    rtsp_server, short_segments, supervisor, caplog
):
    caplog.set_level(logging.DEBUG)
    server = rtsp_server(user="admin", password=PASSWORD)
    camera = make_camera(main_stream_uri=server.url, username="admin", password=PASSWORD)
    wait_for(lambda: len(segments(camera)) >= 4, tick=supervisor.tick, what="4 segments")

    camera.refresh_from_db()
    assert camera.status == Camera.Status.RECORDING
    assert camera.last_segment_at is not None
    segs = segments(camera)
    assert [s.sequence for s in segs] == list(range(1, len(segs) + 1))
    for seg in segs:
        assert seg.status == Segment.Status.COMPLETE
        assert NAME_RE.match(seg.abs_path.name)
        assert seg.sha256 == sha256_file(seg.abs_path)
        assert seg.codec == "h264" and (seg.width, seg.height) == (320, 240)
        # Media, frame count and wall time agree: no warning for an honest camera.
        assert seg.media_warning == "" and seg.frames == pytest.approx(seg.duration * 25, abs=2)
        assert seg.abs_path.stat().st_mode & 0o777 == 0o444
    # After the first (partial-length) file, cuts land on the 1 s keyframes at 2 s boundaries.
    for seg in segs[1:-1]:
        assert seg.duration == pytest.approx(2.0, abs=0.1)

    for prev, seg in zip(segs, segs[1:], strict=False):
        assert abs((seg.start - prev.end).total_seconds()) < 0.1  # no gaps between segments
    assert_chain(camera)
    assert not Gap.objects.filter(camera=camera).exists()
    assert PASSWORD not in caplog.text


def test_the_open_segment_has_a_recording_row_completed_in_place(
    rtsp_server, short_segments, supervisor, settings
):
    settings.SEGMENT_SECONDS = 4
    server = rtsp_server()
    camera = make_camera(main_stream_uri=server.url)
    open_row = wait_for(
        lambda: Segment.objects.filter(camera=camera, status=Segment.Status.RECORDING).first(),
        tick=supervisor.tick,
        what="a recording row",
    )
    assert open_row.sequence is None and open_row.chain_hash is None and not open_row.sha256
    assert open_row.abs_path.is_file()
    wait_for(
        lambda: Segment.objects.get(pk=open_row.pk).status == Segment.Status.COMPLETE,
        tick=supervisor.tick,
        what="the segment closed",
    )
    done = Segment.objects.get(pk=open_row.pk)
    assert done.sequence == 1 and done.sha256 == sha256_file(done.abs_path)
    assert done.start <= open_row.start  # the media start replaces the file name's second
    following = wait_for(
        lambda: Segment.objects.filter(camera=camera, status=Segment.Status.RECORDING).first(),
        tick=supervisor.tick,
        what="the next file's recording row",
    )
    assert following.start > done.start
    assert Segment.objects.filter(camera=camera, status=Segment.Status.RECORDING).count() == 1
    assert_chain(camera)


def test_kill9_ffmpeg_restarts_fast_and_keeps_the_partial_segment(
    rtsp_server, short_segments, supervisor, settings
):
    settings.SEGMENT_SECONDS = 60  # the killed segment is mid-way, not at a cut
    server = rtsp_server()
    camera = make_camera(main_stream_uri=server.url)
    run = wait_for(lambda: supervisor.runs.get(camera.pk), tick=supervisor.tick, what="run")
    wait_for(
        lambda: run.epoch is not None and run.last_size > 50_000,
        tick=supervisor.tick,
        what="a few fragments written",
    )
    planned = []  # (the supervisor's clock when it saw the exit, the retry it planned)
    failed = supervisor.failed

    def spy(camera_id, error, now, cause=None):
        failed(camera_id, error, now, cause)
        planned.append((now, supervisor.retry_at[camera_id]))

    supervisor.failed = spy
    os.kill(run.proc.pid, signal.SIGKILL)
    new_run = wait_for(
        lambda: (
            supervisor.runs.get(camera.pk) not in (None, run) and supervisor.runs.get(camera.pk)
        ),
        tick=supervisor.tick,
        step=0.05,
        what="a new FFmpeg",
    )
    # Restarted fast: the first retry is planned within 2 s of the exit, whatever the load
    # (the supervisor's own clock, not the test's).
    [(seen_at, retry_at)] = planned
    assert 0 < retry_at - seen_at <= 2.0
    wait_for(lambda: new_run.epoch is not None, tick=supervisor.tick, what="recording again")

    partial = segments(camera, status=Segment.Status.PARTIAL)
    assert len(partial) == 1
    info = ffprobe.probe(partial[0].abs_path)  # playable up to the last fragment
    assert info.duration > 0.5
    gap = Gap.objects.get(camera=camera)
    assert gap.cause == Gap.Cause.FFMPEG_EXITED
    assert "status -9" in gap.detail
    assert gap.start == partial[0].end
    assert gap.end is not None and gap.end > gap.start
    assert (gap.end - gap.start).total_seconds() < 5
    assert_chain(camera)


def test_camera_away_then_back_reconnects_with_backoff(rtsp_server, short_segments, supervisor):
    server = rtsp_server()
    camera = make_camera(main_stream_uri=server.url)
    wait_for(lambda: len(segments(camera)) >= 1, tick=supervisor.tick, what="first segment")
    server.stop()
    stopped_at = time.time()
    launches = []

    def tick():
        supervisor.tick()
        run = supervisor.runs.get(camera.pk)
        if run is not None and run.launched_at > stopped_at and run not in launches:
            launches.append(run)

    wait_for(
        lambda: supervisor.failures.get(camera.pk, 0) >= 2,
        tick=tick,
        timeout=20,
        what="a failed reconnect",
    )
    camera.refresh_from_db()
    assert camera.status == Camera.Status.RECONNECTING
    assert "retry in" in camera.last_error and "refused" in camera.last_error
    wait_for(
        lambda: supervisor.failures.get(camera.pk, 0) >= 4,
        tick=tick,
        timeout=40,
        what="four failures in a row",
    )
    camera.refresh_from_db()
    assert camera.status == Camera.Status.OFFLINE
    gap = Gap.objects.get(camera=camera)
    assert gap.cause == Gap.Cause.CAMERA_UNREACHABLE and gap.end is None
    # Back-off: each retry waits about twice as long as the one before.
    starts = [r.launched_at for r in launches]
    waits = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(waits) == 2
    assert waits[1] > waits[0] * 1.5

    server.start()  # same port: the camera comes back
    wait_for(
        lambda: Gap.objects.get(pk=gap.pk).end is not None,
        tick=supervisor.tick,
        timeout=40,
        what="gap closed after reconnect",
    )
    wait_for(
        lambda: segments(camera)[-1].start > Gap.objects.get(pk=gap.pk).start,
        tick=supervisor.tick,
        what="a segment after the gap",
    )
    camera.refresh_from_db()
    assert camera.status == Camera.Status.RECORDING


def test_stalled_stream_is_killed_and_restarted(rtsp_server, short_segments, supervisor):
    server = rtsp_server()
    camera = make_camera(main_stream_uri=server.url)
    run = wait_for(
        lambda: (r := supervisor.runs.get(camera.pk)) and r.epoch and r,
        tick=supervisor.tick,
        what="recording",
    )
    os.kill(server.proc.pid, signal.SIGSTOP)  # the camera hangs, the socket stays open
    try:
        wait_for(
            lambda: Gap.objects.filter(camera=camera, cause=Gap.Cause.STALLED).exists(),
            tick=supervisor.tick,
            timeout=20,
            what="a stalled gap",
        )
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    assert run.proc.returncode == -signal.SIGKILL
    wait_for(
        lambda: Gap.objects.get(camera=camera).end is not None,
        tick=supervisor.tick,
        timeout=30,
        what="recording resumed",
    )


def test_segments_no_longer_than_the_keyframe_interval_are_not_taken_for_a_stall(
    rtsp_server, short_segments, supervisor
):
    """2 s segments from a camera with a keyframe every 2 s: each open file stays at its header
    size until FFmpeg closes it, and so does the next; FFmpeg is writing all along."""
    server = rtsp_server(gop=50)  # key-int-max=50 at 25 fps
    camera = make_camera(main_stream_uri=server.url)
    run = wait_for(
        lambda: (r := supervisor.runs.get(camera.pk)) and r.epoch and r,
        tick=supervisor.tick,
        what="recording",
    )
    # Three stall windows (STALL_SECONDS=4) of healthy recording.
    wait_for(lambda: len(segments(camera)) >= 7, tick=supervisor.tick, what="7 segments")
    assert supervisor.runs[camera.pk] is run and run.proc.poll() is None
    assert not Gap.objects.filter(camera=camera).exists()
    assert {s.status for s in segments(camera)} == {Segment.Status.COMPLETE}

    os.kill(server.proc.pid, signal.SIGSTOP)  # and a truly hung camera is still noticed
    try:
        wait_for(
            lambda: Gap.objects.filter(camera=camera, cause=Gap.Cause.STALLED).exists(),
            tick=supervisor.tick,
            timeout=20,
            what="a stalled gap",
        )
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    assert run.proc.returncode == -signal.SIGKILL


def test_disabling_a_camera_stops_only_its_ffmpeg(rtsp_server, short_segments, supervisor):
    # One server each: gst-rtsp-server asserts when two clients prepare shared media at once.
    one = make_camera("One", main_stream_uri=rtsp_server().url)
    two = make_camera("Two", main_stream_uri=rtsp_server().url)
    wait_for(
        lambda: len(segments(one)) >= 1 and len(segments(two)) >= 1,
        tick=supervisor.tick,
        what="both cameras recording",
    )
    two_run = supervisor.runs[two.pk]
    Camera.objects.filter(pk=one.pk).update(is_enabled=False)
    wait_for(lambda: one.pk not in supervisor.runs, tick=supervisor.tick, what="one stopped")
    one.refresh_from_db()
    assert one.status == Camera.Status.DISABLED
    gap = Gap.objects.get(camera=one)
    assert gap.cause == Gap.Cause.DISABLED and gap.end is None
    assert supervisor.runs[two.pk] is two_run and two_run.proc.poll() is None

    Camera.objects.filter(pk=one.pk).update(is_enabled=True)
    wait_for(
        lambda: Gap.objects.get(pk=gap.pk).end is not None,
        tick=supervisor.tick,
        what="one recording again",
    )


def test_unreachable_camera_error_is_redacted(short_segments, supervisor, caplog):
    caplog.set_level(logging.DEBUG)
    camera = make_camera(
        main_stream_uri="rtsp://127.0.0.1:9/cam", username="admin", password=PASSWORD
    )
    wait_for(
        lambda: supervisor.failures.get(camera.pk, 0) >= 1,
        tick=supervisor.tick,
        what="a failed start",
    )
    camera.refresh_from_db()
    gap = Gap.objects.get(camera=camera)
    assert gap.cause == Gap.Cause.CAMERA_UNREACHABLE
    assert "refused" in camera.last_error.lower()
    for text in (camera.last_error, gap.detail, caplog.text):
        assert PASSWORD not in text and "p%40ss" not in text


def test_kill9_recorder_then_recovery_on_next_start(rtsp_server, box_env, manage_argv):
    server = rtsp_server()
    camera = make_camera(main_stream_uri=server.url)
    env = {**box_env, "CRIMEBOX_SEGMENT_SECONDS": "60"}
    recorder = subprocess.Popen([*manage_argv, "record"], env=env)
    try:
        folder = Path(env["CRIMEBOX_RECORDINGS_DIR"]) / camera.slug
        wait_for(
            lambda: any(p.stat().st_size > 50_000 for p in folder.glob("*/*.mp4")),
            what="the recorder writing",
        )
        wait_for(lambda: Segment.objects.filter(camera=camera).exists(), what="the open file's row")
        assert heartbeat.last_beat() is not None  # health knows the recorder runs
        ffmpeg_pids = subprocess.run(
            ["pgrep", "-P", str(recorder.pid)], capture_output=True, text=True
        ).stdout.split()
        assert ffmpeg_pids
        recorder.kill()
        recorder.wait(5)
        # FFmpeg dies with its supervisor (no orphans writing behind the next recorder's back).
        wait_for(
            lambda: all(
                not os.path.exists(f"/proc/{p}") or open(f"/proc/{p}/stat").read().split()[2] == "Z"
                for p in ffmpeg_pids
            ),
            timeout=10,
            what="orphan FFmpeg gone",
        )
        # The open file has its "recording" row: shown and playable, not hashed yet.
        open_row = Segment.objects.get(camera=camera)
        assert open_row.status == Segment.Status.RECORDING and open_row.sequence is None

        recorder = subprocess.Popen([*manage_argv, "record"], env=env)
        wait_for(lambda: Segment.objects.filter(camera=camera).chained().exists(), what="recovery")
        recovered = Segment.objects.filter(camera=camera).chained().get()
        assert recovered.pk == open_row.pk  # completed in place, as partial
        assert recovered.status == Segment.Status.PARTIAL and recovered.sequence == 1
        assert recovered.sha256 == sha256_file(recovered.abs_path)
        assert "start-up" in recovered.note
        gap = wait_for(
            lambda: Gap.objects.filter(camera=camera, end__isnull=False).first(),
            what="recorder-down gap closed",
        )
        assert gap.cause == Gap.Cause.RECORDER_DOWN
        assert gap.start == recovered.end
        wait_for(
            lambda: any(
                p.stat().st_size > 50_000
                for p in folder.glob("*/*.mp4")
                if p.name != recovered.abs_path.name
            ),
            what="recording again",
        )
        recorder.send_signal(signal.SIGTERM)
        assert recorder.wait(20) == 0
        assert heartbeat.last_beat() is None  # a clean stop says so
        last = Segment.objects.filter(camera=camera).order_by("-sequence").first()
        assert last.sequence == 2 and last.status == Segment.Status.COMPLETE
        assert not Segment.objects.filter(status=Segment.Status.RECORDING).exists()
        assert (
            Gap.objects.filter(camera=camera, end=None, cause=Gap.Cause.RECORDER_DOWN).count() == 1
        )
    finally:
        if recorder.poll() is None:
            recorder.kill()


def test_test_pattern_camera_records_through_the_same_pipeline(short_segments, supervisor):
    camera = make_camera("Pattern", source=Camera.Source.TEST_PATTERN, main_stream_uri="")
    wait_for(lambda: len(segments(camera)) >= 2, tick=supervisor.tick, what="2 segments")
    seg = segments(camera)[1]
    assert seg.status == Segment.Status.COMPLETE and seg.codec == "h264"
    assert (seg.width, seg.height) == (640, 360)
    assert seg.duration == pytest.approx(2.0, abs=0.15)  # -g fps: a keyframe every second
    assert_chain(camera)


def test_recorder_refuses_an_unmigrated_database(box_env, manage_argv, tmp_path):
    env = {**box_env, "CRIMEBOX_DATABASE": str(tmp_path / "empty.sqlite3")}
    proc = subprocess.run(
        [*manage_argv, "record"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "not migrated" in proc.stderr and "manage.py migrate" in proc.stderr


def test_a_second_recorder_on_the_same_data_refuses_to_start(box_env, manage_argv):
    make_camera("Pattern", source=Camera.Source.TEST_PATTERN, main_stream_uri="")
    first = subprocess.Popen([*manage_argv, "record"], env=box_env)
    try:
        wait_for(lambda: Segment.objects.exists(), what="the first recorder recording")
        second = subprocess.run(
            [*manage_argv, "record"], env=box_env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1
        assert "another recorder is running" in second.stderr
        assert f"pid {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
