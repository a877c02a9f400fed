"""Start-up recovery on real files (made by FFmpeg) and real rows."""

import logging
from datetime import UTC, datetime, timedelta

import pytest

from recordings.evidence.hashing import segment_chain_hash
from recordings.index import open_segment, segment_dir
from recordings.models import Gap, Segment
from recordings.recovery import recover
from tests.factories import make_camera, make_media, make_segment

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def file_for(camera, start):
    return segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"


def test_unknown_file_becomes_a_partial_segment_and_a_recorder_down_gap():
    camera = make_camera()
    first = make_segment(camera, T0, seconds=2)
    crashed = make_media(file_for(camera, T0 + timedelta(seconds=2)), seconds=3)  # open at crash
    now = T0 + timedelta(minutes=5)

    result = recover(now)

    assert result.indexed == [str(crashed.relative_to(crashed.parents[2]))]
    seg = Segment.objects.get(camera=camera, sequence=2)
    assert seg.status == Segment.Status.PARTIAL and "start-up" in seg.note
    assert seg.start == T0 + timedelta(seconds=2)  # from the name: nothing better is known
    assert seg.chain_hash == segment_chain_hash(  # appended to the same chain
        camera_id=camera.pk,
        sequence=2,
        prev=first.chain_hash,
        sha256=seg.sha256,
        start=seg.start,
        end=seg.end,
        size=seg.size,
    )
    gap = Gap.objects.get(camera=camera)
    assert (gap.cause, gap.start, gap.end) == (Gap.Cause.RECORDER_DOWN, seg.end, None)

    again = recover(now + timedelta(minutes=1))  # a second start changes nothing
    assert (again.indexed, again.gaps) == ([], 0)
    assert Segment.objects.filter(camera=camera).count() == 2
    assert Gap.objects.filter(camera=camera).count() == 1


def test_vanished_file_is_marked_missing_with_a_warning(caplog):
    camera = make_camera()
    seg = make_segment(camera, T0, seconds=1)
    seg.abs_path.unlink()
    caplog.set_level(logging.WARNING)

    result = recover(T0 + timedelta(minutes=1))

    seg.refresh_from_db()
    assert seg.status == Segment.Status.MISSING and "not found" in seg.note
    assert result.missing == [seg.path]
    assert "missing its file" in caplog.text


def test_empty_and_unreadable_files_are_not_indexed(caplog):
    camera = make_camera()
    empty = file_for(camera, T0)
    empty.parent.mkdir(parents=True)
    empty.write_bytes(b"")
    junk = file_for(camera, T0 + timedelta(seconds=5))
    junk.write_bytes(b"\0" * 4096)  # FFmpeg died before the first readable fragment
    caplog.set_level(logging.ERROR)

    result = recover(T0 + timedelta(minutes=1))

    assert not Segment.objects.exists()
    assert not empty.exists()
    assert not junk.exists() and junk.with_name(junk.name + ".unreadable").exists()
    assert len(result.unreadable) == 1 and "no readable media" in caplog.text
    assert result.gaps == 0  # nothing was ever recorded: no coverage to have a gap in


def test_disabled_camera_gets_no_recorder_down_gap():
    camera = make_camera(is_enabled=False)
    make_segment(camera, T0, seconds=1)
    assert recover(T0 + timedelta(minutes=1)).gaps == 0
    assert not Gap.objects.exists()


def test_recording_row_of_a_crash_is_completed_as_partial_or_removed(caplog):
    camera = make_camera()
    make_segment(camera, T0, seconds=2)
    open_file = make_media(file_for(camera, T0 + timedelta(seconds=2)), seconds=3)
    row = open_segment(camera, open_file)
    gone = open_segment(camera, make_media(file_for(camera, T0 + timedelta(seconds=9)), 1))
    gone.abs_path.unlink()  # its file vanished: it was never footage the box hashed
    caplog.set_level(logging.WARNING)

    recover(T0 + timedelta(minutes=5))

    row.refresh_from_db()
    assert (row.status, row.sequence) == (Segment.Status.PARTIAL, 2)  # the same row, chained
    assert row.sha256 and row.hashed_at is not None
    gone.refresh_from_db()  # its true state, with why
    assert gone.status == Segment.Status.LOST and "left no readable file" in gone.note
    assert gone.sequence is None
    assert "left no readable file" in caplog.text
    assert not Segment.objects.filter(status=Segment.Status.RECORDING).exists()


def test_a_clock_behind_the_footage_at_start_up_is_a_clock_step(monkeypatch):
    camera = make_camera()
    first = make_segment(camera, T0, seconds=4)
    booted = T0 - timedelta(hours=1)  # a saved time from before the power cut
    monkeypatch.setattr("recordings.recovery.clock_synchronized", lambda: False)

    recover(booted)

    step = Gap.objects.get(camera=camera, cause=Gap.Cause.CLOCK_STEP)
    assert (step.start, step.end) == (booted, first.end)
    assert "not synchronised" in step.detail
    first.refresh_from_db()
    assert "stepped" not in first.note  # the footage recorded on a good clock stays as it is
    recover(booted + timedelta(minutes=1))  # a restart a minute later: said once
    assert Gap.objects.filter(camera=camera, cause=Gap.Cause.CLOCK_STEP).count() == 1
