"""Real processes: a sender killed mid-pass; the recorder while the datacenter comes and goes."""

import subprocess
import time
from datetime import UTC, datetime

import pytest

from audit import log
from audit.models import AuditEvent
from recordings.models import Gap, Segment
from sync import sender
from sync.models import OutboxItem, SyncLog
from tests.factories import make_camera, make_segment
from tests.helpers import start_process, stop_process, wait_for
from tests.recordings.conftest import RTSPServer

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)

KILLED_AFTER_INSERT = """
import os, signal
from sync import sender
sender.settle = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
sender.send_pending(force=True)
"""


def test_worker_killed_after_insert_before_marking_sent(rtcc, rtcc_db, box_env, manage_argv):
    camera = make_camera()
    make_segment(camera, T0)
    log.record(AuditEvent.Action.VIEW, username="alice", camera=camera)
    env = {**box_env, "CRIMEBOX_RTCC_URI": rtcc.uri, "CRIMEBOX_RTCC_DB": "rtcc"}
    worker = subprocess.run([*manage_argv, "shell", "-c", KILLED_AFTER_INSERT], env=env)
    assert worker.returncode == -9
    total = OutboxItem.objects.count()
    assert rtcc_db.segments.count_documents({}) == 1  # inserted at the datacenter ...
    assert OutboxItem.objects.pending().count() == total  # ... never marked here
    # Its claim names a process that no longer runs: the next pass takes the rows over at
    # once, not after the 5-minute lease.
    result = sender.send_pending(force=True)
    assert result.ok and result.sent == total and result.mismatches == 0
    assert not OutboxItem.objects.pending().exists()
    assert rtcc_db.segments.count_documents({}) == 1 and rtcc_db.audit.count_documents({}) == 1
    assert SyncLog.objects.filter(result="ok", delivered=total).exists()


@pytest.fixture
def camera_server():
    server = RTSPServer().start()
    yield server
    server.stop()


def test_recorder_keeps_recording_while_the_datacenter_comes_and_goes(
    rtcc, rtcc_db, camera_server, box_env, manage_argv
):
    camera = make_camera(main_stream_uri=camera_server.url)
    env = {
        **box_env,
        "CRIMEBOX_SEGMENT_SECONDS": "2",
        "CRIMEBOX_RTCC_URI": rtcc.uri,
        "CRIMEBOX_RTCC_DB": "rtcc",
    }
    recorder = start_process([*manage_argv, "record"], env=env)
    try:

        def closed(n):
            return Segment.objects.filter(camera=camera).chained().count() >= n

        wait_for(lambda: closed(2), timeout=60, what="two closed segments")
        sender.send_pending(force=True)
        rtcc.stop()
        start = Segment.objects.filter(camera=camera).chained().count()
        deadline = time.monotonic() + 60
        while not closed(start + 3) and time.monotonic() < deadline:
            sender.send_pending(force=True)  # fails: the datacenter is down
            time.sleep(0.5)
        assert closed(start + 3)
        rtcc.start()
        wait_for(lambda: closed(start + 5), timeout=60, what="more segments after the outage")
    finally:
        stop_process(recorder, timeout=20)
    assert sender.send_pending(force=True).ok
    segments = list(Segment.objects.filter(camera=camera).chained().order_by("sequence"))
    # No extra hole: each segment starts where the previous one ended (to a frame).
    for a, b in zip(segments, segments[1:], strict=False):
        assert abs((b.start - a.end).total_seconds()) < 0.2, (a, b)
    assert (
        not Gap.objects.filter(camera=camera, start__gt=segments[0].start)
        .exclude(start__gte=segments[-1].end)
        .exists()
    )
    ids = [d["_id"] for d in rtcc_db.segments.find({"camera_id": camera.pk}, {"_id": 1})]
    assert len(ids) == len(set(ids)) == len(segments)
    assert SyncLog.objects.filter(result="failed").exists()


def test_cluster_sends_what_commits(rtcc, rtcc_db, box_env, manage_argv):
    """The task queued on commit reaches a real Django-Q cluster, which delivers the document."""
    from django_q.models import Schedule

    Schedule.objects.all().delete()  # only the task queued on commit can deliver it
    env = {**box_env, "CRIMEBOX_RTCC_URI": rtcc.uri, "CRIMEBOX_RTCC_DB": "rtcc"}
    cluster = start_process([*manage_argv, "qcluster"], env=env, stderr=subprocess.DEVNULL)
    try:
        event = log.record(AuditEvent.Action.EXPORT, username="alice", target="export 1")
        doc = wait_for(
            lambda: rtcc_db.audit.find_one({"hash": event.hash}),
            timeout=60,
            what="the audit entry at the datacenter",
        )
        assert doc["_id"] == f"test-box:audit:{event.sequence}"
        wait_for(
            lambda: OutboxItem.objects.get(kind="audit").state == OutboxItem.State.SENT,
            what="marked delivered",
        )
    finally:
        stop_process(cluster)
