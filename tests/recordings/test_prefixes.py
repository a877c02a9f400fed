"""An export of footage still being recorded owes a check of the bytes it took: once the
segment closes (even after the recorder was killed in between), the box hashes the closed
file's prefix and replicates a signed `prefix_check`; a mismatch is audited and an alarm."""

import pytest

from audit.models import AuditEvent
from crimebox.signature import from_body
from recordings import recovery
from recordings.evidence import prefixes
from recordings.health import box_problems
from recordings.index import index_segment
from recordings.models import PrefixCheck, Segment
from sync.models import OutboxItem
from tests.factories import make_camera, make_segments
from tests.sync.clips import T0, export_into_open_segment, manifest_of


@pytest.fixture
def exported(db, tmp_path):
    camera = make_camera("North")
    segments = make_segments(camera, T0, 2)
    path, package = export_into_open_segment(camera, segments[-1], tmp_path / "out")
    [source] = [s for s in manifest_of(package)["source_segments"] if "recorded_prefix" in s]
    return camera, path, source


def prefix_docs() -> list[dict]:
    return [from_body(i.body) for i in OutboxItem.objects.filter(kind="prefix_check")]


def test_the_check_is_owed_at_export_and_replicated_when_the_segment_closes(exported):
    camera, path, source = exported
    prefix = source["recorded_prefix"]
    check = PrefixCheck.objects.get()
    assert (check.result, check.path, check.end_byte, check.sha256) == (
        PrefixCheck.Result.OWED,
        source["path"],
        prefix["end_byte"],
        prefix["sha256"],
    )
    assert prefix_docs() == []  # nothing to say while the segment is open
    segment = index_segment(camera, path, start=T0.replace(second=8))
    check.refresh_from_db()
    assert check.result == PrefixCheck.Result.OK and check.found_sha256 == prefix["sha256"]
    [doc] = prefix_docs()
    assert (
        doc["_id"]
        == f"test-box:prefix_check:{source['id']}:{prefix['end_byte']}:" + (prefix["sha256"])
    )
    assert doc["result"] == "ok" and doc["sequence"] == segment.sequence == 3
    assert doc["segment_sha256"] == segment.sha256 and doc["prefix_sha256"] == prefix["sha256"]
    assert doc["path"] == source["path"] and doc["end_byte"] == prefix["end_byte"]
    assert doc["export"] == check.export_id and "sig" in doc
    assert prefixes.settle() == [] and len(prefix_docs()) == 1  # settled once


def test_a_recorder_killed_between_export_and_close_settles_it_at_start_up(exported):
    """The file was never indexed by the recorder: start-up recovery indexes it, and the owed
    row (committed with the export) is settled."""
    camera, path, source = exported
    recovery.recover()
    assert Segment.objects.get(path=source["path"]).status == Segment.Status.PARTIAL
    assert PrefixCheck.objects.get().result == PrefixCheck.Result.OK
    assert [d["result"] for d in prefix_docs()] == ["ok"]


def test_killed_after_indexing_before_settling_start_up_settles_it(exported, monkeypatch):
    camera, path, source = exported
    monkeypatch.setattr(prefixes, "settle", lambda segment=None: [])  # killed right there
    index_segment(camera, path, start=T0.replace(second=8))
    assert PrefixCheck.objects.get().result == PrefixCheck.Result.OWED
    monkeypatch.undo()
    recovery.recover()
    assert PrefixCheck.objects.get().result == PrefixCheck.Result.OK
    assert len(prefix_docs()) == 1


def test_a_closed_file_that_begins_with_other_bytes(exported):
    camera, path, source = exported
    prefix = source["recorded_prefix"]
    data = bytearray(path.read_bytes())
    data[prefix["end_byte"] // 2] ^= 1
    path.write_bytes(bytes(data))
    index_segment(camera, path, start=T0.replace(second=8))
    check = PrefixCheck.objects.get()
    assert check.result == PrefixCheck.Result.MISMATCH and check.found_sha256 != check.sha256
    [doc] = prefix_docs()
    assert doc["result"] == "mismatch" and doc["found_sha256"] == check.found_sha256
    event = AuditEvent.objects.filter(action=AuditEvent.Action.SYSTEM).last()
    assert event.detail["event"] == "exported prefix mismatch"
    assert event.detail["exported_sha256"] == prefix["sha256"]
    alarms, _ = box_problems(None)
    assert any("closed segment does not begin with" in a for a in alarms)
