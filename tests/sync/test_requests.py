"""Clip requests from the RTCC console, the box's half: finding, trusting, refusing (FerretDB)."""

from datetime import UTC, datetime, timedelta

import pytest

from audit.models import AuditEvent
from crimebox import retrieval as proto
from crimebox.signature import from_body, sign
from sync import requests
from sync.models import ClipRequest, OutboxItem
from tests.factories import make_camera
from tests.sync.clips import T0, make_request, other_key

pytestmark = pytest.mark.django_db


def answers(kind_state: str) -> list[dict]:
    rows = OutboxItem.objects.filter(kind=proto.ANSWER_KIND, doc_id__endswith=f":{kind_state}")
    return [from_body(r.body) for r in rows]


def test_a_console_signed_request_is_accepted_and_audited(rtcc, rtcc_db, console):
    camera = make_camera("North")
    doc = make_request(console)
    rtcc_db.requests.insert_one(doc)
    assert requests.poll() == 1
    job = ClipRequest.objects.get()
    assert job.state == ClipRequest.State.RECEIVED and job.user == "alice"
    event = AuditEvent.objects.get(action="system", username="rtcc:alice")
    assert event.target == f"camera {camera.pk}"  # in the package's custody record
    assert event.detail["rtcc_request"] == doc["request"]
    assert event.detail["case"] == "26-004512"
    (accepted,) = answers("accepted")
    assert accepted["request"] == doc["request"] and accepted["box"] == "test-box"
    assert accepted["_id"] == proto.answer_doc_id("test-box", doc["request"], "accepted")
    # The request is seen once: a second pass finds it again and does nothing.
    assert requests.poll() == 0
    assert ClipRequest.objects.count() == 1 and len(answers("accepted")) == 1


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"start": T0, "end": T0 + timedelta(days=3650)}, "sends at most 60"),
        ({"start": T0 + timedelta(minutes=5), "end": T0}, "ends before it starts"),
        ({"camera": "Nowhere"}, "no camera named 'Nowhere'"),
        ({"case_number": "26-0045\x1b[2J12"}, "control character (U+001B)"),
        ({"reason": ""}, "reason must not be empty"),
        (
            {
                "start": datetime(2099, 1, 1, tzinfo=UTC),
                "end": datetime(2099, 1, 1, 0, 5, tzinfo=UTC),
            },
            "starts in the future",
        ),
    ],
    ids=["ten-years", "negative", "unknown-camera", "control-chars", "no-reason", "future"],
)
def test_bad_requests_are_answered_with_the_reason(rtcc, rtcc_db, console, fields, expected):
    make_camera("North")
    rtcc_db.requests.insert_one(make_request(console, **fields))
    requests.poll()
    job = ClipRequest.objects.get()
    assert job.state == ClipRequest.State.REFUSED
    (refused,) = answers("refused")
    assert expected in refused["reason"] and refused["reason"] == job.last_error
    assert not AuditEvent.objects.filter(username="rtcc:alice").exists()  # nothing acted on


def test_requests_not_signed_by_the_console_are_ignored(rtcc, rtcc_db, console, tmp_path):
    make_camera("North")
    forged = make_request(other_key(tmp_path))  # any MongoDB user with its own key
    tampered = make_request(console)
    tampered["camera"] = "North"
    tampered["user"] = "mallory"  # signature no longer matches
    unsigned = {k: v for k, v in make_request(console).items() if k != "sig"}
    rtcc_db.requests.insert_many([forged, tampered, unsigned])
    assert requests.poll() == 3
    assert set(ClipRequest.objects.values_list("state", flat=True)) == {"ignored"}
    assert not OutboxItem.objects.filter(kind=proto.ANSWER_KIND).exists()
    alarms = AuditEvent.objects.filter(username="sync", target__startswith="rtcc request")
    assert alarms.count() == 3
    assert "not signed by the trusted RTCC console key" in alarms.first().detail["alarm"]


def test_a_request_for_another_box_is_never_acted_on(rtcc, rtcc_db, console):
    make_camera("North")
    theirs = make_request(console, box="box-18")
    rtcc_db.requests.insert_one(theirs)
    assert requests.poll() == 0  # not found: the find names this box
    # Re-addressed to this box by someone with write access: the signature covers `box`.
    moved = {**theirs, "_id": "x", "box": "test-box"}
    rtcc_db.requests.insert_one(moved)
    requests.poll()
    assert ClipRequest.objects.get().state == ClipRequest.State.IGNORED
    # Handed over directly, a console-signed request for another box is ignored too.
    job = requests.receive(make_request(console, box="box-18"), requests.console_key(), T0)
    assert job.state == ClipRequest.State.IGNORED


def test_a_forged_far_future_request_does_not_hide_real_ones(rtcc, rtcc_db, console, tmp_path):
    make_camera("North")
    future = datetime(2090, 1, 1, tzinfo=UTC)
    rtcc_db.requests.insert_one(make_request(other_key(tmp_path), created_at=future))
    requests.poll()
    rtcc_db.requests.insert_one(make_request(console))
    assert requests.poll() == 1
    assert ClipRequest.objects.filter(state="received").count() == 1


def test_without_a_console_key_nothing_is_looked_for(rtcc, rtcc_db, console, settings):
    make_camera("North")
    rtcc_db.requests.insert_one(make_request(console))
    settings.RTCC_CONSOLE_KEY_FILE = ""
    assert requests.poll() == 0 and not ClipRequest.objects.exists()
    assert requests.console_fingerprint() == ""


def test_the_console_key_is_on_the_health_page_and_checked(console, settings, tmp_path):
    from console.health_words import clip_words
    from sync.checks import check_console_key
    from sync.status import sync_status

    status = sync_status()
    assert status["console_key_fingerprint"] == console.fingerprint
    assert console.fingerprint in clip_words(status)
    assert check_console_key() == []
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    settings.RTCC_CONSOLE_KEY_FILE = str(bad)
    (error,) = check_console_key()
    assert error.id == "sync.W002"
    assert "not acted on" in clip_words(sync_status())


def test_a_cancel_signed_by_someone_else_is_ignored(rtcc, rtcc_db, console, tmp_path):
    make_camera("North")
    doc = make_request(console)
    rtcc_db.requests.insert_one(doc)
    requests.poll()
    stranger = proto.cancel_doc(
        other_key(tmp_path), request=doc["request"], box="test-box", user="x", created_at=T0
    )
    rtcc_db.requests.insert_one(stranger)
    job = ClipRequest.objects.get()
    assert not requests.is_cancelled(job, requests.console_key())
    rtcc_db.requests.delete_one({"_id": stranger["_id"]})
    rtcc_db.requests.insert_one(sign({k: v for k, v in stranger.items() if k != "sig"}, console))
    assert requests.is_cancelled(job, requests.console_key())
