"""Faults under the running recorder (real FFmpeg, a real RTSP camera): a file deleted under it."""

import pytest

from recordings.evidence.integrity import verify_segments
from recordings.models import Gap, Segment
from recordings.recorder import Supervisor
from tests.factories import make_camera
from tests.helpers import wait_for

from .conftest import InlineExecutor

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def supervisor(settings):
    settings.SEGMENT_SECONDS = 4
    settings.STALL_SECONDS = 4
    settings.RTSP_TIMEOUT_SECONDS = 5
    sup = Supervisor(executor=InlineExecutor(), sync_interval=0.5)
    yield sup
    sup.shutdown(grace=5)


def chained(camera):
    return Segment.objects.filter(camera=camera).chained().order_by("sequence")


def test_the_open_segment_deleted_under_the_recorder_is_a_gap_and_a_lost_row(
    rtsp_server, supervisor
):
    camera = make_camera(main_stream_uri=rtsp_server().url)
    wait_for(lambda: chained(camera).exists(), tick=supervisor.tick, what="a closed segment")
    row = wait_for(
        lambda: Segment.objects.filter(camera=camera, status=Segment.Status.RECORDING).first(),
        tick=supervisor.tick,
        what="the open file's row",
    )
    before = chained(camera).last()
    row.abs_path.unlink()  # an operator, a bad script, a failing card

    gap = wait_for(
        lambda: Gap.objects.filter(
            camera=camera, cause=Gap.Cause.FILE_LOST, end__isnull=False
        ).first(),
        tick=supervisor.tick,
        what="a closed file-lost gap",
    )
    row.refresh_from_db()
    assert row.status == Segment.Status.LOST and "never hashed" in row.note
    assert row.sequence is None  # not in the chain: there were never bytes to hash
    assert gap.start == before.end and row.abs_path.name in gap.detail
    wait_for(
        lambda: chained(camera).filter(start__gte=gap.end).exists(),
        tick=supervisor.tick,
        what="recording again after the gap",
    )
    assert verify_segments(camera).ok
