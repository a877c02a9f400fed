"""Fill a real (tiny) disk under the recorder: a disk-full gap, retention frees space, recording
resumes. Needs root to mount a tmpfs (CI runs as root)."""

import os
import subprocess
import time

import pytest

from recordings.models import Gap, Segment
from recordings.recorder import DISK_FULL_RETRY, Supervisor
from tests.factories import make_camera
from tests.helpers import wait_for

from .conftest import InlineExecutor

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tiny_disk(tmp_path, settings):
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    settings.RECORDINGS_DIR = mount
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_gap_then_retention_and_recording_resume(rtsp_server, tiny_disk, settings):
    settings.SEGMENT_SECONDS = 1
    settings.MIN_FREE_GB = 0
    settings.MIN_FREE_PERCENT = 50
    server = rtsp_server(size="1280x720", bitrate=3000)  # ~375 KB/s fills 3 MB in seconds
    camera = make_camera(main_stream_uri=server.url)
    supervisor = Supervisor(executor=InlineExecutor(), sync_interval=0.5)
    try:
        gap = wait_for(
            lambda: Gap.objects.filter(camera=camera, cause=Gap.Cause.DISK_FULL).first(),
            tick=supervisor.tick,
            timeout=60,
            what="a disk-full gap",
        )
        assert "No space left on device" in gap.detail  # FFmpeg's line, or the disk's own word
        # Retention ran on the disk-full exit and deleted the oldest segments...
        deleted = Segment.objects.filter(camera=camera, status=Segment.Status.DELETED)
        assert deleted.exists()
        assert all("free space" in s.note for s in deleted)
        # ...so the camera records again and the gap closes.
        wait_for(
            lambda: Gap.objects.get(pk=gap.pk).end is not None,
            tick=supervisor.tick,
            timeout=30,
            what="recording resumed",
        )
    finally:
        supervisor.shutdown(grace=5)


def fill(path):
    """Take every free byte with a file retention knows nothing of (an operator's copy)."""
    try:
        with open(path, "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
    except OSError:
        pass


def test_a_full_disk_is_named_at_every_exit_and_recovered_within_seconds(
    rtsp_server, tiny_disk, settings
):
    settings.SEGMENT_SECONDS = 1
    settings.MIN_FREE_GB = 0
    settings.MIN_FREE_PERCENT = 0
    camera = make_camera(main_stream_uri=rtsp_server().url)
    supervisor = Supervisor(executor=InlineExecutor(), sync_interval=0.5)
    try:
        wait_for(
            lambda: Segment.objects.filter(camera=camera).chained().exists(),
            tick=supervisor.tick,
            what="recording",
        )
        ballast = tiny_disk / "ballast"
        fill(ballast)
        gap = wait_for(
            lambda: Gap.objects.filter(camera=camera, end=None).first(),
            tick=supervisor.tick,
            timeout=30,
            what="a gap",
        )
        assert gap.cause == Gap.Cause.DISK_FULL
        wait_for(
            lambda: supervisor.failures.get(camera.pk, 0) >= 4,
            tick=supervisor.tick,
            timeout=60,
            what="four failed starts on the full disk",
        )
        # Every later exit is named a full disk too (so each prunes), and is never backed off.
        camera.refresh_from_db()
        assert "No space left on device" in camera.last_error
        assert supervisor.retry_at[camera.pk] - time.time() <= DISK_FULL_RETRY
        ballast.unlink()  # space is back
        wait_for(
            lambda: Gap.objects.get(pk=gap.pk).end is not None,
            tick=supervisor.tick,
            timeout=DISK_FULL_RETRY + 15,
            what="recording resumed within seconds",
        )
    finally:
        supervisor.shutdown(grace=5)
