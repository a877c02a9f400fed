"""Fleet state and alerts: raised and resolved on changes, e-mailed and POSTed to a webhook."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from rtcc import alerts, ingest
from rtcc.models import Alert, Box, Camera

from .conftest import T0
from .test_ingest import enrolled_box

pytestmark = pytest.mark.django_db


def test_a_box_goes_dark_and_recovers_alert_raised_resolved_and_mailed(rtcc_ledger, settings):
    settings.RTCC_ALERT_EMAILS = ["rtcc@example.org"]
    box = enrolled_box(rtcc_ledger)
    box.camera()
    box.heartbeat(time=T0)
    ingest.tick(now=T0)
    row = Box.objects.get()
    assert row.state == Box.State.RECORDING
    assert Camera.objects.get().state == Camera.State.RECORDING
    mail.outbox.clear()
    silent = T0 + timedelta(minutes=settings.RTCC_SILENT_MINUTES + 1)
    ingest.tick(now=silent)
    ingest.tick(now=silent + timedelta(seconds=2))  # no change: no second alert
    row.refresh_from_db()
    assert row.state == Box.State.DARK and Camera.objects.get().state == Camera.State.DARK
    (alert,) = Alert.objects.filter(kind=Alert.Kind.SILENT)
    assert alert.resolved_at is None and alert.notified_at == silent
    assert len(mail.outbox) == 1 and "box-1" in mail.outbox[0].subject
    back = silent + timedelta(minutes=1)
    box.heartbeat(time=back)  # the box's own clock says so; contact is the console's
    ingest.tick(now=back)
    alert.refresh_from_db()
    assert alert.resolved_at == back and alert.resolve_notified_at == back
    assert Box.objects.get().last_contact_at == back
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["[RTCC] raised", "[RTCC] resolved"]


@pytest.mark.parametrize(
    ("health", "kind"),
    [
        ({"free": 10}, Alert.Kind.DISK),
        ({"under_voltage": True}, Alert.Kind.POWER),
        ({"clock_synced": False}, Alert.Kind.CLOCK),
        ({"backlog_age_s": 7200}, Alert.Kind.BACKLOG),
        ({"status": "offline"}, Alert.Kind.NOT_RECORDING),
    ],
)
def test_health_alerts_follow_the_heartbeats(rtcc_ledger, health, kind):
    box = enrolled_box(rtcc_ledger)
    box.heartbeat(time=T0, **health)
    ingest.tick(now=T0)
    (alert,) = Alert.objects.active().exclude(kind=Alert.Kind.UNENROLLED)
    assert alert.kind == kind
    assert Box.objects.get().state == Box.State.DEGRADED
    box.heartbeat(time=T0 + timedelta(minutes=1))
    ingest.tick(now=T0 + timedelta(minutes=1))
    alert.refresh_from_db()
    assert alert.resolved_at is not None and Box.objects.get().state == Box.State.RECORDING


class Hook(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(Hook.answers.pop(0) if Hook.answers else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_gets_json_and_a_failure_is_retried_on_a_later_pass(rtcc_ledger, settings):
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hook.answers, Hook.received = [], []
    settings.RTCC_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        box = enrolled_box(rtcc_ledger)  # the unenrolled-key alert was raised and resolved
        Hook.answers = [500]
        box.heartbeat(time=T0, free=10)
        ingest.tick(now=T0)
        disk = Alert.objects.get(kind=Alert.Kind.DISK)
        assert disk.notify_attempts == 1 and "HTTP 500" in disk.notify_error
        assert disk.next_notify_at == T0 + timedelta(seconds=30)
        alerts.notify_due(now=T0 + timedelta(seconds=10))  # not yet due
        alerts.notify_due(now=T0 + timedelta(seconds=31))
        disk.refresh_from_db()
        assert disk.notified_at is not None and disk.notify_error == ""
    finally:
        server.shutdown()
    sent = [r for r in Hook.received if r["kind"] == "disk"]
    assert len(sent) == 2 and sent[-1]["state"] == "raised" and sent[-1]["box"] == "box-1"


def test_a_webhook_retry_does_not_e_mail_everyone_again(rtcc_ledger, settings):
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hook.answers, Hook.received = [], []
    settings.RTCC_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    settings.RTCC_ALERT_EMAILS = ["rtcc@example.org"]
    try:
        box = enrolled_box(rtcc_ledger)
        Hook.answers = [500, 500]
        mail.outbox.clear()
        box.heartbeat(time=T0, free=10)
        ingest.tick(now=T0)  # e-mail out, webhook refused
        alerts.notify_due(now=T0 + timedelta(seconds=31))  # webhook refused again
        alerts.notify_due(now=T0 + timedelta(seconds=92))  # webhook out
        disk = Alert.objects.get(kind=Alert.Kind.DISK)
        assert disk.notified_at is not None and disk.notify_sent == ""
    finally:
        server.shutdown()
    assert len([r for r in Hook.received if r["kind"] == "disk"]) == 3
    assert len([m for m in mail.outbox if "Disk" in m.subject or "disk" in m.subject]) == 1


def test_rtcc_boxes_lists_the_fleet(rtcc_ledger):
    box = enrolled_box(rtcc_ledger)
    box.camera()
    box.heartbeat(time=T0)
    ingest.tick(now=T0)
    out = StringIO()
    call_command("rtcc_boxes", "--json", stdout=out)
    (row,) = json.loads(out.getvalue())["boxes"]
    assert row["box"] == "box-1" and row["enrolment"] == "enrolled"
    assert row["fingerprint"] == box.key.fingerprint and row["last_contact"] is not None
    assert row["cameras"] == [{"camera": "North", "state": "recording", "last_segment_end": None}]
    text = StringIO()
    call_command("rtcc_boxes", stdout=text)
    assert "box-1  recording  enrolled" in text.getvalue()
