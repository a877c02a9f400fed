"""What a real server cannot be made to do on demand, scripted at the wire (MockupDB):
not primary, a write-concern error, a timeout in the middle of a batch."""

import pytest
from django.db import transaction
from mockupdb import MockupDB

from crimebox import outbox
from sync import sender
from sync.documents import base
from sync.models import OutboxItem, SyncLog
from sync.outbox import add

HELLO = {"maxWireVersion": 21, "minWireVersion": 0, "isWritablePrimary": True, "ismaster": True}


@pytest.fixture
def wire(settings):
    server = MockupDB(auto_ismaster=HELLO)
    server.autoresponds("hello", **HELLO)
    server.run()
    settings.RTCC_URI, settings.RTCC_URI_FILE = server.uri, ""
    settings.RTCC_TIMEOUT_SECONDS = 1
    yield server
    server.stop()


def outbox_items():
    with transaction.atomic():
        for i in range(3):
            add(base(outbox.AUDIT, str(i), sequence=i))
        add(base("heartbeat", "b:1", sequence=1))
    return sender.claim()


def script(server, collection, reply):
    """Answer every insert into `collection` with `reply` (None: never answer)."""

    def handler(request):
        if request.doc.get("insert") != collection:
            return False
        if reply is not None:
            request.reply(reply)
        return True  # handled: an unanswered request times out at the client

    server.autoresponds(handler)


@pytest.mark.django_db
def test_not_primary_keeps_everything_pending(wire):
    script(wire, "audit", {"ok": 0, "errmsg": "not primary", "code": 10107})
    script(wire, "heartbeats", {"ok": 0, "errmsg": "not primary", "code": 10107})
    result = sender.send_batch(outbox_items())
    assert result.error and "not primary" in result.error and result.sent == 0
    assert OutboxItem.objects.pending().filter(claim="").count() == 4
    assert SyncLog.objects.get().result == SyncLog.Result.FAILED


@pytest.mark.django_db
def test_write_concern_error_is_not_delivered(wire):
    wc = {"code": 64, "errmsg": "waiting for replication timed out"}
    script(wire, "audit", {"ok": 1, "n": 3, "writeConcernError": wc})
    script(wire, "heartbeats", {"ok": 1, "n": 1})
    result = sender.send_batch(outbox_items())
    assert result.sent == 1 and "write concern" in result.error
    assert set(OutboxItem.objects.pending().values_list("kind", flat=True)) == {"audit"}
    assert OutboxItem.objects.get(kind="heartbeat").state == OutboxItem.State.SENT
    assert "waiting for replication" in OutboxItem.objects.filter(kind="audit").first().last_error


@pytest.mark.django_db
def test_timeout_in_the_middle_of_a_batch(wire):
    script(wire, "audit", {"ok": 1, "n": 3})
    script(wire, "heartbeats", None)  # the second insert of the batch never returns
    result = sender.send_batch(outbox_items())
    assert result.sent == 3 and result.error
    assert OutboxItem.objects.filter(state=OutboxItem.State.SENT).count() == 3
    beat = OutboxItem.objects.get(kind="heartbeat")
    assert beat.state == OutboxItem.State.PENDING and beat.claim == "" and beat.attempts == 1
    assert "timed out" in beat.last_error.lower() or "timeout" in beat.last_error.lower()


@pytest.mark.django_db
def test_credentials_never_reach_the_log_or_the_error(settings, wire):
    settings.RTCC_URI = wire.uri.replace("mongodb://", "mongodb://boxuser:hunter2-secret@")
    script(wire, "audit", {"ok": 0, "errmsg": "auth boxuser:hunter2-secret failed", "code": 18})
    script(wire, "heartbeats", {"ok": 0, "errmsg": "nope", "code": 18})
    result = sender.send_batch(outbox_items())
    assert result.error
    texts = [result.error, *SyncLog.objects.values_list("error", flat=True)]
    texts += list(OutboxItem.objects.values_list("last_error", flat=True))
    assert not any("hunter2" in t or "boxuser" in t for t in texts), texts


def test_redact_removes_user_and_password():
    from sync.remote import describe, redact

    uri = "mongodb://box%2D7:p%40ss-w0rd@10.0.0.5:27017/?tls=true"
    assert redact("failed for mongodb://box%2D7:p%40ss-w0rd@10.0.0.5", uri) == (
        "failed for mongodb://***@10.0.0.5"
    )
    assert redact("user box-7 with p@ss-w0rd refused", uri) == "user *** with *** refused"
    assert describe(uri) == "mongodb://***@10.0.0.5:27017/"


def test_bad_uri_error_carries_no_password(settings):
    from sync.remote import RemoteError, client

    with pytest.raises(RemoteError) as e:
        client("mongodb://boxuser:hunter2@127.0.0.1:99999/")
    assert "hunter2" not in str(e.value) and "boxuser" not in str(e.value)


def test_uri_from_a_file(settings, tmp_path):
    from sync.remote import configured_uri

    secret = tmp_path / "rtcc.uri"
    secret.write_text("mongodb://a:b@10.1.1.1/\n")
    settings.RTCC_URI, settings.RTCC_URI_FILE = "", str(secret)
    assert configured_uri() == "mongodb://a:b@10.1.1.1/"


def test_system_checks_warn_about_bad_replication_settings(settings, tmp_path):
    """Warnings, never errors: a replication typo must not stop record/live/qcluster."""
    from sync.checks import check_rtcc

    settings.RTCC_URI, settings.RTCC_URI_FILE = "", ""
    settings.RTCC_TLS_CA_FILE = settings.RTCC_TLS_CERT_FILE = ""
    assert check_rtcc() == []
    settings.RTCC_URI = "mongodb://boxuser:hunter2@host:notaport/"
    (warning,) = check_rtcc()
    assert warning.id == "sync.W001" and "not a valid MongoDB URI" in warning.msg
    assert "hunter2" not in warning.msg and "boxuser" not in warning.msg
    settings.RTCC_URI, settings.RTCC_URI_FILE = "", str(tmp_path / "missing.uri")
    (warning,) = check_rtcc()
    assert "cannot read CRIMEBOX_RTCC_URI_FILE" in warning.msg
    settings.RTCC_URI_FILE, settings.RTCC_TLS_CA_FILE = "", str(tmp_path / "ca.pem")
    settings.RTCC_URI = "mongodb://10.0.0.1/"
    (warning,) = check_rtcc()
    assert "CRIMEBOX_RTCC_TLS_CA_FILE" in warning.msg
