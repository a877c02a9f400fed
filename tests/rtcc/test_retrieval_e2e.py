"""A real box (recorder + Django-Q cluster processes) recording a real RTSP camera; an
investigator asks the console for a two-minute window of that camera's footage; the box's link
to the datacenter (a 2 Mbit/s loopback proxy in front of FerretDB) is cut twice during the
upload; the package becomes ready, verified against the datacenter's own segment documents,
verifies offline, and both audit trails name the investigator and the request; the recorder
made no hole while the link was cut.

The window is footage from before the recorder started, made by the test's factory (real
H.264 files, indexed and chained as the recorder indexes them): recording it in real time took
two of this test's four minutes, and packages of the recorder's own files are proved by
tests/recordings/test_export_recording.py. Chunks of 128 KiB keep the upload long enough for
both cuts."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from recordings.evidence.signing import ensure_signing_key
from recordings.evidence.verify import verify_package
from recordings.models import Gap, Segment
from rtcc import retrieval
from rtcc.models import Box, Camera, ClipJob
from sync.models import ClipRequest
from sync.tasks import ensure_schedules
from tests.factories import make_camera, make_segments
from tests.helpers import start_process, stop_process, wait_for
from tests.peers.linkproxy import LinkProxy
from tests.recordings.conftest import RTSPServer
from tests.sync import conftest as sync_fixtures

ferretdb, rtcc, rtcc_db = sync_fixtures.ferretdb, sync_fixtures.rtcc, sync_fixtures.rtcc_db
pytestmark = pytest.mark.django_db(transaction=True)

WINDOW = timedelta(minutes=2)
CHUNK = 128 * 1024  # ~90 chunks of the factory's 2 minutes (~770 kbit/s)
SEGMENT = 10  # seconds


def enrol(camera) -> None:
    key = ensure_signing_key()
    box = Box.objects.create(
        box_id="test-box",
        enrolment=Box.Enrolment.ENROLLED,
        fingerprint=key.fingerprint,
        public_key_pem=key.public_pem.decode(),
    )
    Camera.objects.create(box=box, camera_id=camera.pk, name=camera.name)


@pytest.mark.timeout(900)
def test_a_window_over_a_link_cut_twice_while_the_box_records(
    rtcc, rtcc_db, box_env, manage_argv, tmp_path
):
    server = RTSPServer().start()
    proxy = LinkProxy(rtcc.port, kbps=2000).start()
    camera = make_camera("North", main_stream_uri=server.url)
    pem = tmp_path / "console.pub.pem"
    pem.write_bytes(retrieval.console_key().public_pem)
    ensure_schedules()
    env = {
        **box_env,
        "CRIMEBOX_SEGMENT_SECONDS": str(SEGMENT),
        "CRIMEBOX_RTCC_URI": proxy.uri,
        "CRIMEBOX_RTCC_DB": "rtcc",
        "CRIMEBOX_RTCC_CONSOLE_KEY_FILE": str(pem),
        "CRIMEBOX_RTCC_UPLOAD_KBPS": "0",  # the link itself is the limit here
        "CRIMEBOX_RTCC_CHUNK_KB": str(CHUNK // 1024),
    }
    # Two minutes ending a minute before the recorder starts: a gap between, then live footage.
    start = (timezone.now() - WINDOW - timedelta(minutes=1)).replace(microsecond=0)
    end = start + WINDOW
    make_segments(camera, start, int(WINDOW.total_seconds()) // SEGMENT, seconds=SEGMENT)
    out = open(tmp_path / "box.log", "w")
    recorder = start_process([*manage_argv, "record"], env=env, stdout=out, stderr=out)
    cluster = start_process([*manage_argv, "qcluster"], env=env, stdout=out, stderr=out)
    try:
        enrol(camera)
        job = retrieval.request_clip(
            box_id="test-box",
            camera="North",
            start=start,
            end=end,
            case_number="26-004512",
            reason="hit and run on Main St",
            user="investigator-ann",
        )

        def uploading(at_least: int) -> bool:
            row = ClipRequest.objects.filter(request=job.request).first()
            return bool(row and row.chunks_total and row.chunks_done >= at_least)

        wait_for(lambda: uploading(3), timeout=180, what="the upload under way")
        proxy.cut(10)
        wait_for(lambda: uploading(12), timeout=180, what="the upload resumed")
        proxy.cut(10)

        def ready() -> bool:
            retrieval.tick()
            job.refresh_from_db()
            return job.state not in ClipJob.OPEN

        wait_for(ready, timeout=300, step=1, what="the package verified at the console")
    finally:
        for proc in (cluster, recorder):
            stop_process(proc)
        proxy.stop()
        server.stop()
        out.close()
    assert job.state == ClipJob.State.READY, (job.problem, job.box_reason, job.report)
    assert proxy.cuts == 2
    box_job = ClipRequest.objects.get(request=job.request)
    assert box_job.resumes >= 2
    # Bytes put on the link again after the two cuts: at most one chunk each.
    assert box_job.bytes_sent - box_job.export.size <= 2 * CHUNK
    path = Path(job.path)
    assert verify_package(path).ok
    assert any("source segment(s) match" in c for c in job.report["checks"])
    box_side = AuditEvent.objects.filter(username="rtcc:investigator-ann")
    assert job.request in {e.detail.get("rtcc_request") for e in box_side}
    assert AuditEvent.objects.filter(
        username="investigator-ann", detail__rtcc_request=job.request
    ).exists()
    # No recording hole while the link was cut: the live footage is whole from its first file.
    live = list(
        Segment.objects.filter(camera=camera, start__gte=end).chained().order_by("sequence")
    )
    assert len(live) >= 3, live
    for a, b in zip(live, live[1:], strict=False):
        assert abs((b.start - a.end).total_seconds()) < 0.2, (a, b)
    assert (
        not Gap.objects.filter(camera=camera, start__gt=live[0].start)
        .exclude(start__gte=live[-1].end)  # the recorder stopped at the test's end
        .exists()
    )
