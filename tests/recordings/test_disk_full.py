"""Fill a real (tiny) disk under the recorder: a disk-full gap, retention frees space, recording
resumes. Needs root to mount a tmpfs (CI runs as root)."""

import os
import subprocess

import pytest

from recordings.models import Gap, Segment
from recordings.recorder import Supervisor
from tests.factories import make_camera

from .conftest import InlineExecutor, wait_for

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
        assert "No space left on device" in gap.detail
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
