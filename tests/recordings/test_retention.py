from collections import namedtuple
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from recordings.evidence.integrity import verify_segments
from recordings.holds import place_hold
from recordings.models import Export, Segment
from recordings.retention import expire_exports, prune, storage_alarm
from tests.factories import make_camera, make_segments

Usage = namedtuple("Usage", "total used free")
T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def disk(free):
    return lambda path: Usage(100 * 10**9, 100 * 10**9 - free, free)


@pytest.fixture
def footage(db, settings):
    settings.MIN_FREE_GB = 1
    settings.MIN_FREE_PERCENT = 0
    settings.RETENTION_DAYS = 30
    a, b = make_camera("A"), make_camera("B")
    # interleaved in time across cameras: A0 B0 A1 B1 A2 B2
    segs_a = make_segments(a, T0, 3, seconds=2)
    segs_b = make_segments(b, T0 + timedelta(seconds=1), 3, seconds=2)
    return segs_a, segs_b


def test_deletes_oldest_first_across_cameras_until_the_floor(footage):
    segs_a, segs_b = footage
    need = segs_a[0].size + segs_b[0].size  # exactly the two oldest
    result = prune(now=NOW, disk_usage=disk(10**9 - need))
    assert [d["segment"] for d in result.deleted] == [segs_a[0].pk, segs_b[0].pk]
    for seg in (segs_a[0], segs_b[0]):
        seg.refresh_from_db()
        assert seg.status == Segment.Status.DELETED and seg.deleted_at
        assert not seg.abs_path.exists()
    assert Segment.objects.filter(status=Segment.Status.COMPLETE).count() == 4
    events = AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DELETE)
    assert {e.detail["sha256"] for e in events} == {segs_a[0].sha256, segs_b[0].sha256}
    assert verify_segments().ok  # the chain survives deletion
    assert not result.alarm


def test_never_deletes_held_footage_and_raises_the_alarm(footage):
    segs_a, segs_b = footage
    place_hold(segs_a[0].camera, T0, T0 + timedelta(minutes=5), "case 26-1")
    result = prune(now=NOW, disk_usage=disk(0))
    deleted = {d["segment"] for d in result.deleted}
    assert deleted == {s.pk for s in segs_b}
    assert all(s.abs_path.exists() for s in segs_a)
    assert "only footage on legal hold" in result.alarm
    assert "only footage on legal hold" in storage_alarm(disk(0))
    assert storage_alarm(disk(10**10)) == ""


def test_age_limit(footage, settings):
    settings.RETENTION_DAYS = 1
    result = prune(now=T0 + timedelta(days=1, seconds=3), disk_usage=disk(50 * 10**9))
    # Only segments that started more than a day before `now`.
    assert len(result.deleted) == 3
    assert all(d["reason"] == "older than 1 days" for d in result.deleted)


def test_dry_run_deletes_nothing(footage, capsys, monkeypatch):
    monkeypatch.setattr("shutil.disk_usage", disk(0))
    with pytest.raises(SystemExit) as exit_info:
        call_command("prune_segments", "--dry-run")
    assert exit_info.value.code == 2  # the floor cannot be met: it says so
    out = capsys.readouterr().out
    assert "6 segment(s) would delete" in out
    assert Segment.objects.filter(status=Segment.Status.COMPLETE).count() == 6


def test_nothing_to_do_with_enough_space(footage):
    assert prune(now=NOW, disk_usage=disk(50 * 10**9)).deleted == []


def test_old_evidence_packages_expire_but_their_record_stays(db, settings, tmp_path):
    settings.EXPORT_KEEP_DAYS = 30

    def package(name, age_days, where=None):
        path = (where or settings.EXPORTS_DIR) / name
        path.write_bytes(b"PK zip")
        return Export.objects.create(
            start=T0,
            end=NOW,
            case_number="26-1",
            reason="r",
            status=Export.Status.DONE,
            path=name if where is None else str(path),
            sha256="ab" * 32,
            finished_at=NOW - timedelta(days=age_days),
        )

    old, fresh = package("old.zip", 31), package("fresh.zip", 29)
    elsewhere = package("cli.zip", 90, where=tmp_path)  # export_clip --out: not ours
    assert expire_exports(NOW) == [old.pk]
    old.refresh_from_db()
    assert old.status == Export.Status.EXPIRED and old.sha256 == "ab" * 32
    assert not old.abs_path.exists() and fresh.abs_path.exists()
    assert (tmp_path / "cli.zip").exists()
    assert Export.objects.get(pk=elsewhere.pk).status == Export.Status.DONE
    event = AuditEvent.objects.get(action="retention_delete")
    assert event.target == f"export {old.pk}" and event.detail["sha256"] == "ab" * 32
    assert expire_exports(NOW) == []  # safe to run again

    settings.EXPORT_KEEP_DAYS = 0  # keep forever
    assert expire_exports(NOW + timedelta(days=365)) == []
