"""The real box's documents (sync/) through the real sender into the ledger, ingested and
verified by the console: the two sides agree on schema 2, signatures and chains."""

import json
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from audit import log
from audit.models import AuditEvent
from crimebox import outbox as crimebox_outbox
from recordings import gaps, holds
from recordings.evidence.signing import ensure_signing_key
from recordings.models import Segment
from rtcc import ingest, roles
from rtcc.models import (
    Alert,
    Box,
    Camera,
    GapRecord,
    IntegrityProblem,
    MissingRange,
    SegmentRecord,
)
from rtcc.trust import enrol
from sync import heartbeat, outbox, remote, sender
from sync.models import OutboxItem
from tests.factories import make_camera, make_segments
from tests.helpers import kill_process, start_process, stop_process, wait_for
from tests.rtcc.pagekit import console_site, make_user  # noqa: F401

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_what_a_box_sends_the_console_ingests_verifies_and_shows(rtcc_ledger, settings):
    remote.create_collections(settings.RTCC_URI, settings.RTCC_DB)
    camera = make_camera("North", latitude="41.878113", longitude="-87.629799")
    make_segments(camera, T0, 3)
    gaps.open_gap(camera, "unreachable", "refused", T0 + timedelta(minutes=1))
    with transaction.atomic():
        log.record(AuditEvent.Action.VIEW, username="zoë", camera=camera)
    holds.place_hold(camera, T0, T0 + timedelta(seconds=8), "case 9")
    heartbeat.beat()
    assert sender.send_pending().ok
    ingest.tick()
    box = Box.objects.get(box_id=settings.BOX_ID)
    fingerprint = ensure_signing_key().fingerprint
    assert box.enrolment == Box.Enrolment.PENDING and box.keys.get().fingerprint == fingerprint
    enrol(settings.BOX_ID, fingerprint)
    ingest.tick()
    assert not IntegrityProblem.objects.exists(), list(IntegrityProblem.objects.values())
    assert list(SegmentRecord.objects.values_list("verification", flat=True)) == ["verified"] * 3
    assert SegmentRecord.objects.filter(on_hold=True).count() == 2
    assert GapRecord.objects.get().cause == "unreachable"
    assert str(Camera.objects.get().latitude) == "41.878113"  # from the heartbeat
    with transaction.atomic():
        camera.location, camera.model = "Main St & 5th", "X1"
        camera.save()
        crimebox_outbox.report(crimebox_outbox.CAMERA, camera)
    assert sender.send_pending().ok
    ingest.tick()
    shown = Camera.objects.get()
    assert (shown.location, shown.model, shown.revision != "") == ("Main St & 5th", "X1", True)
    out = StringIO()
    call_command("rtcc_verify", "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"]


@pytest.mark.django_db
def test_a_camera_moved_back_shows_where_it_is_now(rtcc_ledger, settings):
    """A → B → A: the console applies camera documents in document-number order, so the move
    back must be a document of its own, or the map keeps showing B."""
    remote.create_collections(settings.RTCC_URI, settings.RTCC_DB)
    camera = make_camera("North")
    for location, firmware in (("Pole 7", "1.0"), ("Pole 9", "1.1"), ("Pole 7", "1.0")):
        with transaction.atomic():
            camera.location, camera.firmware_version = location, firmware
            camera.save()
            crimebox_outbox.report(crimebox_outbox.CAMERA, camera)
    sender.ensure_registration()
    assert sender.send_pending().ok
    ingest.tick()
    enrol(settings.BOX_ID, ensure_signing_key().fingerprint)
    ingest.tick()
    shown = Camera.objects.get()
    assert (shown.location, shown.firmware_version) == ("Pole 7", "1.0")
    assert not IntegrityProblem.objects.exists(), list(IntegrityProblem.objects.values())
    out = StringIO()
    call_command("rtcc_verify", "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"]


@pytest.mark.django_db
def test_heartbeats_the_box_dropped_undelivered_are_declared_not_alerted(rtcc_ledger, settings):
    remote.create_collections(settings.RTCC_URI, settings.RTCC_DB)
    sender.ensure_box_document()
    for _ in range(3):
        heartbeat.beat()
    old = datetime.now(UTC) - timedelta(days=settings.HEARTBEAT_KEEP_DAYS + 1)
    OutboxItem.objects.filter(kind="heartbeat").update(created_at=old)
    outbox.prune()
    heartbeat.beat()
    assert sender.send_pending().ok
    ingest.tick()
    enrol(settings.BOX_ID, ensure_signing_key().fingerprint)
    ingest.tick()
    later = datetime.now(UTC) + timedelta(minutes=settings.RTCC_HOLE_GRACE_MINUTES + 1)
    ingest.tick(now=later)
    assert list(MissingRange.objects.values_list("state", flat=True)) == ["declared"]
    assert not IntegrityProblem.objects.exists()
    out = StringIO()
    call_command("rtcc_verify", stdout=out)
    assert "OK" in out.getvalue()


class RunningBox:
    """The box as it runs: its recorder and its Django-Q cluster (the sender), real processes
    on the test database. The box's heartbeat schedule fires every minute; the test plays that
    clock by queueing the same task the schedule queues."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv, self.env = argv, env
        self.procs: list[subprocess.Popen] = []

    def start(self) -> "RunningBox":
        self.procs = [
            start_process([*self.argv, "record"], env=self.env),
            start_process([*self.argv, "qcluster"], env=self.env, stderr=subprocess.DEVNULL),
        ]
        return self

    def beat(self) -> None:
        async_task("sync.tasks.heartbeat_task", save=False)

    def stop(self) -> None:
        """The recorder first (it closes its segment), then the cluster once it sent it all."""
        recorder, cluster = self.procs
        stop_process(recorder)
        wait_for(lambda: not OutboxItem.objects.pending().exists(), timeout=30, what="outbox sent")
        stop_process(cluster)
        self.procs = []

    def kill(self) -> None:
        for proc in self.procs:
            kill_process(proc)


def fleet_markers(client: Client) -> dict[str, dict]:
    html = client.get(reverse("rtcc:fleet")).content
    found = re.search(rb'<script id="fleet-data" type="application/json">(.*?)</script>', html)
    return {m["id"]: m for m in json.loads(found[1])["markers"]} if found else {}


def verify_json() -> dict:
    out = StringIO()
    try:
        call_command("rtcc_verify", "--json", stdout=out)
    except SystemExit as e:
        assert e.code == 1
    return json.loads(out.getvalue())


# A fresh box numbers its documents from 1 (the console checks there is no hole), as it
# does here only if earlier tests' rows leave no trace in the sequences.
@pytest.mark.django_db(transaction=True, reset_sequences=True)
@pytest.mark.usefixtures("console_site")
def test_done_means_enrol_on_the_map_dark_and_back_a_window_and_rtcc_verify(
    rtcc_ledger, settings, box_env, manage_argv, rtsp_server
):
    """docs/rtcc.md, "Done means": a newcomer beside a running box, end to end."""
    settings.RTCC_ALERT_EMAILS = ["rtcc@example.org"]
    settings.RTCC_DISK_FLOOR_GB = 0  # the test machine's disk is not the box's alert
    remote.create_collections(settings.RTCC_URI, settings.RTCC_DB)
    camera = make_camera(
        "North", main_stream_uri=rtsp_server().url, latitude="41.878113", longitude="-87.629799"
    )
    env = {
        **box_env,
        "CRIMEBOX_SEGMENT_SECONDS": "2",
        "CRIMEBOX_RTCC_URI": settings.RTCC_URI,
        "CRIMEBOX_RTCC_DB": settings.RTCC_DB,
    }
    box_id = settings.BOX_ID
    box = RunningBox(manage_argv, env).start()
    try:
        # The technician reads the box's fingerprint on site; the console lists the box pending.
        status = subprocess.run(
            [*manage_argv, "sync_status"], env=env, capture_output=True, text=True, timeout=60
        )
        fingerprint = re.search(r"key fingerprint: ([0-9a-f]{64})", status.stdout)[1]
        wait_for(
            lambda: Box.objects.filter(box_id=box_id, enrolment="pending").exists(),
            timeout=60,
            tick=ingest.tick,
            what="the box pending on the console",
        )
        enrolled_at = time.monotonic()
        call_command("rtcc_enrol", box_id, fingerprint, stdout=StringIO())
        box.beat()
        operator = Client()
        operator.force_login(make_user("operator", roles.OPERATOR))

        def on_the_map() -> bool:
            # Degraded is allowed for the box: a test machine's clock may not say it is
            # synchronised (an alert of its own); its camera must be recording.
            found = fleet_markers(operator)
            cam = found.get(f"{box_id}/{camera.pk}", {})
            return found.get(box_id, {}).get("state") in ("recording", "degraded") and (
                cam.get("state") == "recording" and cam["lat"] == 41.878113
            )

        wait_for(on_the_map, timeout=60, tick=ingest.tick, what="the box and camera on the map")
        assert time.monotonic() - enrolled_at < 60
        wait_for(
            lambda: Segment.objects.filter(camera=camera).chained().count() >= 2,
            timeout=60,
            what="two closed segments",
        )
        box.stop()  # the box goes away; the console notices on its own clock
        ingest.tick()
        silent = timezone.now() + timedelta(minutes=settings.RTCC_SILENT_MINUTES + 1)
        ingest.tick(now=silent)
        assert Box.objects.get(box_id=box_id).state == Box.State.DARK
        assert fleet_markers(operator)[box_id]["state"] == "dark"
        (alert,) = Alert.objects.filter(kind=Alert.Kind.SILENT)
        assert alert.resolved_at is None
        raised = [m for m in mail.outbox if m.subject.startswith("[RTCC] raised: Box silent")]
        assert len(raised) == 1 and box_id in raised[0].subject

        back = silent + timedelta(minutes=1)
        heartbeats = rtcc_ledger.heartbeats.count_documents({})
        box.start().beat()
        wait_for(
            lambda: rtcc_ledger.heartbeats.count_documents({}) > heartbeats,
            timeout=60,
            what="a heartbeat from the box that came back",
        )
        ingest.tick(now=back)
        alert.refresh_from_db()
        assert alert.resolved_at == back
        assert Box.objects.get(box_id=box_id).state != Box.State.DARK
        assert [m.subject for m in mail.outbox if "Box silent" in m.subject] == [
            f"[RTCC] raised: Box silent on {box_id}",
            f"[RTCC] resolved: Box silent on {box_id}",
        ]
        box.stop()
    finally:
        box.kill()
    ingest.tick(now=back)

    # The segments of a window, with their hashes, verified at the datacenter.
    recorded = list(Segment.objects.filter(camera=camera).chained().order_by("sequence"))
    start, end = (timezone.localtime(t) for t in (recorded[0].start, recorded[-1].end))
    investigator = Client()
    investigator.force_login(make_user("investigator", roles.INVESTIGATOR))
    page = investigator.get(
        reverse("rtcc:where"),
        {
            "start": f"{start:%Y-%m-%dT%H:%M:%S}",
            "end": f"{end + timedelta(seconds=1):%Y-%m-%dT%H:%M:%S}",
        },
    ).content.decode()
    for segment in recorded:
        assert segment.sha256 in page
    shown = SegmentRecord.objects.filter(box__box_id=box_id)
    assert set(shown.values_list("sha256", flat=True)) == {s.sha256 for s in recorded}
    assert set(shown.values_list("verification", flat=True)) == {"verified"}

    checked = verify_json()
    assert checked["ok"], json.dumps(checked)
    first = rtcc_ledger.segments.find_one({"box": box_id, "sequence": 1})
    rtcc_ledger.segments.update_one({"_id": first["_id"]}, {"$set": {"size": first["size"] + 1}})
    problems = {(p["problem"], p["doc_id"]) for p in verify_json()["boxes"][0]["problems"]}
    assert ("bad_signature", first["_id"]) in problems  # (and its successor is left unlinked)
    rtcc_ledger.segments.update_one({"_id": first["_id"]}, {"$set": {"size": first["size"]}})
    assert verify_json()["ok"]
    second = rtcc_ledger.segments.find_one({"box": box_id, "sequence": 2})
    rtcc_ledger.segments.delete_one({"_id": second["_id"]})
    problems = {(p["problem"], p["doc_id"]) for p in verify_json()["boxes"][0]["problems"]}
    assert ("gone_from_ledger", second["_id"]) in problems
