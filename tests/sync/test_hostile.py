"""A hostile datacenter, scripted at the wire (MockupDB): replies no MongoDB sends, stored
documents that are not the box's, a server answering every insert "duplicate, different"."""

import io

import pytest
from django.core.management import call_command
from django.db import transaction
from mockupdb import MockupDB

from audit import log
from audit.models import AuditEvent
from crimebox import outbox
from sync import sender
from sync.documents import base
from sync.models import OutboxItem, SyncLog, SyncState
from sync.outbox import add

HELLO = {"maxWireVersion": 21, "minWireVersion": 0, "isWritablePrimary": True, "ismaster": True}


@pytest.fixture
def wire(settings):
    server = MockupDB(auto_ismaster=HELLO)
    server.autoresponds("hello", **HELLO)
    server.autoresponds("ping", ok=1)
    server.run()
    settings.RTCC_URI, settings.RTCC_URI_FILE = server.uri, ""
    settings.RTCC_TIMEOUT_SECONDS = 1
    yield server
    server.stop()


def facts(n=3):
    with transaction.atomic():
        for i in range(n):
            add(base(outbox.AUDIT, str(1000 + i), sequence=1000 + i))


def on_insert(server, reply):
    """Answer every insert with reply(request) (a dict)."""

    def handler(request):
        if "insert" not in request.doc:
            return False
        request.reply(reply(request))
        return True

    server.autoresponds(handler)


def on_find(server, docs):
    """Answer every find with docs(request) (a list), in one batch."""

    def handler(request):
        if "find" not in request.doc:
            return False
        ns = f"{request.doc['$db']}.{request.doc['find']}"
        request.reply({"cursor": {"id": 0, "ns": ns, "firstBatch": docs(request)}, "ok": 1})
        return True

    server.autoresponds(handler)


def every_insert_a_duplicate(request):
    n = len(request.doc.get("documents", []))
    errors = [{"index": i, "code": 11000, "errmsg": "duplicate key"} for i in range(n)]
    return {"ok": 1, "n": 0, "writeErrors": errors}


def requested_ids(request) -> list:
    return request.doc.get("filter", {}).get("_id", {}).get("$in", [])


def assert_failed_cleanly(words: str) -> None:
    """Rows released (not left claimed for the lease), the error on them, a sync log row."""
    assert OutboxItem.objects.pending().count() == OutboxItem.objects.count()
    assert not OutboxItem.objects.exclude(claim="").exists()
    assert all(words in e for e in OutboxItem.objects.values_list("last_error", flat=True))
    log_row = SyncLog.objects.get()
    assert log_row.result == SyncLog.Result.FAILED and words in log_row.error
    assert words in SyncState.get().last_error


@pytest.mark.django_db
@pytest.mark.parametrize(
    "reply",
    [
        {"ok": 1, "n": "many"},
        {"ok": 1, "n": 0, "writeErrors": [{"index": 99, "code": 11000, "errmsg": "dup"}]},
        {"ok": 1, "n": 0, "writeErrors": [{"index": "x", "code": "y"}]},
        {"ok": 1, "n": 0, "writeErrors": "everything"},
    ],
    ids=["n-many", "index-out-of-range", "index-not-a-number", "errors-not-a-list"],
)
def test_a_reply_mongodb_never_sends_is_a_recorded_error(wire, reply):
    facts()
    on_insert(wire, lambda request: reply)
    result = sender.send_pending(force=True)
    assert result.error and not result.ok and result.sent == 0
    assert_failed_cleanly("unexpected reply from the datacenter")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stored",
    [
        lambda i: {"_id": i, "box": "test-box", "size": 1.5},  # a float
        lambda i: {"box": "test-box"},  # no _id
        lambda i: {"_id": [i], "box": "test-box"},  # a list _id
    ],
    ids=["float", "no-id", "list-id"],
)
def test_a_malformed_stored_document_never_crashes_the_sender(wire, stored):
    facts()
    on_insert(wire, every_insert_a_duplicate)
    on_find(wire, lambda request: [stored(i) for i in requested_ids(request)])
    result = sender.send_pending(force=True)
    assert not result.ok
    assert not OutboxItem.objects.exclude(claim="").exists()  # nothing left claimed
    assert SyncLog.objects.exists()
    for item in OutboxItem.objects.all():
        assert item.last_error, item  # each row says what happened to it


@pytest.mark.django_db
def test_a_server_answering_every_insert_duplicate_different_makes_one_alarm(wire):
    """A server answering every insert "duplicate, different": one alarm, and it causes no
    other (not an audit entry per attempt, 18,821 in 90 s)."""
    facts()
    log.record(AuditEvent.Action.VIEW, username="alice")
    on_insert(wire, every_insert_a_duplicate)
    on_find(wire, lambda request: [{"_id": i, "box": "test-box"} for i in requested_ids(request)])
    for _ in range(10):
        sender.send_pending(force=True)
    assert AuditEvent.objects.filter(username="sync").count() == 1
    assert not OutboxItem.objects.pending().exists()
    assert OutboxItem.objects.filter(state=OutboxItem.State.MISMATCH).count() == (
        OutboxItem.objects.count()
    )


@pytest.mark.django_db
def test_verify_remote_survives_documents_without_a_text_id(wire):
    on_find(wire, lambda request: [{"box": "test-box"}, {"_id": [1, 2], "box": "test-box"}])
    out = io.StringIO()
    with pytest.raises(SystemExit) as e:
        call_command("verify_remote", stdout=out)
    assert e.value.code == 1
    assert out.getvalue().count("MALFORMED_THERE") == 2
