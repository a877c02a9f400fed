"""rtcc_verify: passes on a whole ledger, names the document when one was changed or deleted."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from rtcc import ingest
from rtcc.models import HeartbeatSample

from .conftest import LedgerBox
from .test_ingest import enrolled_box

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_chunks")]


def run_verify(*args: str) -> tuple[int, dict]:
    out = StringIO()
    try:
        call_command("rtcc_verify", "--json", *args, stdout=out)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    return code, json.loads(out.getvalue())


def whole_box(db):
    box = enrolled_box(db)
    box.camera()
    segments = [box.segment() for _ in range(4)]
    box.heartbeat()
    ingest.tick()
    return box, segments


def test_a_whole_ledger_passes(rtcc_ledger):
    whole_box(rtcc_ledger)
    code, report = run_verify()
    assert code == 0 and report["ok"], report
    (box,) = report["boxes"]
    assert box["documents"] == 1 + 1 + 4 + 1 and box["segments"] == 4


def test_a_field_changed_by_hand_is_named(rtcc_ledger):
    _, segments = whole_box(rtcc_ledger)
    target = segments[2]["_id"]
    rtcc_ledger.segments.update_one({"_id": target}, {"$set": {"size": 1}})
    code, report = run_verify("--box", "box-1")
    assert code == 1 and not report["ok"]
    problems = report["boxes"][0]["problems"]
    bad = [p for p in problems if p["problem"] == "bad_signature"]
    assert [(p["doc_id"], p["camera_id"], p["sequence"]) for p in bad] == [(target, 1, 3)]


def test_a_deleted_segment_document_is_named(rtcc_ledger):
    _, segments = whole_box(rtcc_ledger)
    gone = segments[1]
    rtcc_ledger.segments.delete_one({"_id": gone["_id"]})
    code, report = run_verify()
    assert code == 1
    problems = {p["problem"]: p for p in report["boxes"][0]["problems"]}
    assert problems["missing_sequence"]["sequence"] == 2
    assert problems["missing_sequence"]["doc_id"] == segments[2]["_id"]  # the next one names it
    assert problems["gone_from_ledger"]["doc_id"] == gone["_id"]
    assert f"n {gone['n']}..{gone['n']}" in problems["missing_number"]["detail"]


def test_an_unknown_box_is_a_clear_error(rtcc_ledger):
    with pytest.raises(CommandError, match="no box 'nope'"):
        call_command("rtcc_verify", "--box", "nope")


def test_an_unreachable_ledger_is_an_error_even_with_no_box_ingested(settings, silent_port):
    settings.RTCC_URI, settings.RTCC_URI_FILE = f"mongodb://127.0.0.1:{silent_port}/", ""
    settings.RTCC_TIMEOUT_SECONDS = 0.5
    with pytest.raises(CommandError, match="cannot read the ledger"):
        call_command("rtcc_verify", "--json", stdout=StringIO())


def test_a_box_in_the_ledger_the_console_never_ingested_is_checked(rtcc_ledger):
    box = LedgerBox(rtcc_ledger, "box-9")
    box.register()
    box.segment()
    code, report = run_verify()
    assert code == 1
    (checked,) = report["boxes"]
    assert checked["box"] == "box-9" and checked["documents"] == 2
    assert [p["problem"] for p in checked["problems"]] == ["untrusted"]


def test_a_stranger_huge_number_is_not_counted_to(rtcc_ledger):
    box, _ = whole_box(rtcc_ledger)
    stranger = LedgerBox(rtcc_ledger, "box-1")
    stranger.n = 2**63 - 2
    stranger.segment(camera_id=9)
    code, report = run_verify()
    assert code == 1
    problems = report["boxes"][0]["problems"]
    assert [p["problem"] for p in problems] == ["untrusted"]


def test_heartbeats_the_console_ingested_and_the_ledger_expired_are_accounted_for(rtcc_ledger):
    box, _ = whole_box(rtcc_ledger)
    box.segment()
    ingest.tick()
    assert HeartbeatSample.objects.count() == 1
    rtcc_ledger.heartbeats.delete_many({})  # the datacenter's 90-day TTL index
    code, report = run_verify()
    assert code == 0 and report["ok"], report
