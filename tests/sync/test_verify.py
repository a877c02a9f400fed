"""verify_remote and verify_evidence --rtcc against a real MongoDB-protocol server."""

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from recordings.models import Segment
from sync import sender
from tests.factories import make_camera, make_segments

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def run(*args, **kw) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, **kw)
    except SystemExit as e:
        return e.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def replicated(rtcc, db):
    camera = make_camera("North")
    segments = make_segments(camera, T0, 3)
    assert sender.send_pending().ok
    return camera, segments


def test_verify_remote_passes_then_names_each_difference(replicated, rtcc_db):
    camera, segments = replicated
    code, out = run("verify_remote")
    assert code == 0, out
    assert "3 segments compared, 0 problem(s)" in out
    # Altered at the datacenter, missing there, and there but gone here.
    rtcc_db.segments.update_one(
        {"_id": f"test-box:segment:{camera.pk}:2"}, {"$set": {"sha256": "e" * 64}}
    )
    rtcc_db.segments.delete_one({"_id": f"test-box:segment:{camera.pk}:3"})
    rtcc_db.segments.insert_one(
        {
            "_id": f"test-box:segment:{camera.pk}:9",
            "box": "test-box",
            "camera": "North",
            "file": "x",
        }
    )
    code, out = run("verify_remote", "--json")
    assert code == 1
    problems = {(p["problem"], p["what"].split(" (")[0]) for p in json.loads(out)["problems"]}
    assert problems == {
        ("different_there", "North segment #2"),
        ("missing_there", "North segment #3"),
        ("gone_here", "North x"),
    }


def test_verify_remote_catches_a_changed_time(replicated, rtcc_db):
    camera, segments = replicated
    rtcc_db.segments.update_one(
        {"_id": f"test-box:segment:{camera.pk}:1"},
        {"$set": {"start_exact": "2026-11-24T13:00:00.000000Z"}},
    )
    code, out = run("verify_remote", "--camera", "North")
    assert code == 1 and "DIFFERENT_THERE: North segment #1" in out and "start_exact" in out


def test_verify_remote_unknown_camera_is_a_clear_error(replicated):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no camera named"):
        call_command("verify_remote", "--camera", "Nope")


def package(tmp_path) -> Path:
    out = io.StringIO()
    call_command(
        "export_clip",
        "--camera",
        "North",
        "--start",
        (T0 + timedelta(seconds=1)).isoformat(),
        "--end",
        (T0 + timedelta(seconds=9)).isoformat(),
        "--case",
        "26-1",
        "--reason",
        "test",
        "--out",
        str(tmp_path),
        stdout=out,
    )
    return Path(out.getvalue().strip())


def test_verify_evidence_against_the_datacenter(replicated, rtcc, rtcc_db, tmp_path):
    camera, segments = replicated
    path = package(tmp_path)
    code, out = run("verify_evidence", str(path), "--rtcc", rtcc.uri)
    assert code == 0, out
    assert "3 source segment(s) compared with the datacenter" in out
    # The URI can come from standard input (no password in the process list).
    code, out = run("verify_evidence", str(path), "--rtcc", "-", stdin=io.StringIO(rtcc.uri + "\n"))
    assert code == 0, out
    rtcc_db.segments.update_one(
        {"_id": f"test-box:segment:{camera.pk}:2"}, {"$set": {"chain_hash": "d" * 64}}
    )
    code, out = run("verify_evidence", str(path), "--rtcc", rtcc.uri)
    assert code == 1
    assert "datacenter: North segment #2" in out and "chain_hash" in out
    assert "not signed by the box key" in out  # the altered document's signature fails too


def test_verify_evidence_refuses_a_key_the_box_never_registered(
    replicated, rtcc, rtcc_db, tmp_path
):
    path = package(tmp_path)
    rtcc_db.boxes.delete_many({})
    code, out = run("verify_evidence", str(path), "--rtcc", rtcc.uri)
    assert code == 1 and "is not a key box test-box registered" in out


def test_verify_evidence_names_a_segment_never_replicated(replicated, rtcc, rtcc_db, tmp_path):
    rtcc_db.segments.delete_one({"sequence": 3})
    path = package(tmp_path)
    code, out = run("verify_evidence", str(path), "--rtcc", rtcc.uri)
    assert code == 1 and "North segment #3" in out and "no document" in out
    assert Segment.objects.count() == 3
