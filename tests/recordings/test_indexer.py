"""The recorder's writes when another process holds the database: retried within seconds, in
order, the chain following time and no gap over recorded footage (recordings/indexer.py)."""

import logging
import os
import signal
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection

from cameras.models import Camera
from recordings import gaps
from recordings.index import camera_files, index_segment, relative_path, segment_dir
from recordings.indexer import Indexer
from recordings.models import Gap, Segment
from recordings.recorder import Supervisor
from tests.factories import make_camera, make_media
from tests.helpers import wait_for

from .conftest import InlineExecutor

pytestmark = pytest.mark.django_db(transaction=True)
T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.fixture
def short_db_timeout():
    """SQLite's busy timeout down from 20 s, so a held lock fails a write in 0.5 s. New
    connections (the indexer thread's) read this same settings dict."""
    options = connection.settings_dict["OPTIONS"]
    before = options["timeout"]
    options["timeout"] = 0.5
    connection.close()
    yield
    options["timeout"] = before
    connection.close()


def hold_database() -> sqlite3.Connection:
    """Another process's long write transaction (the fault campaign's retention run)."""
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, timeout=5)
    other.execute("BEGIN IMMEDIATE")
    return other


def chained(camera):
    return list(Segment.objects.filter(camera=camera).chained().order_by("sequence"))


@pytest.mark.slow
def test_segments_closed_while_the_database_is_held_are_hashed_at_once_and_chained_in_order(
    settings, short_db_timeout, caplog
):
    caplog.set_level(logging.INFO, logger="recordings.recorder")
    settings.SEGMENT_SECONDS = 2
    camera = make_camera("Pattern", source=Camera.Source.TEST_PATTERN, main_stream_uri="")
    supervisor = Supervisor(sync_interval=0.5)  # real threads, as the record command
    try:
        wait_for(lambda: chained(camera), tick=supervisor.tick, what="a first segment")
        before = {p.name for p in camera_files(camera)}
        other = hold_database()
        try:
            # Files close meanwhile: each is sealed and hashed within seconds, database or not.
            def closed_while_held():
                new = [p for p in camera_files(camera) if p.name not in before]
                done = [p for p in new[:-1] if p.stat().st_mode & 0o777 == 0o444]
                return len(done) >= 2 and "database is locked" in caplog.text

            wait_for(closed_while_held, tick=supervisor.tick, timeout=30, what="sealed files")
        finally:
            other.rollback()
            other.close()
        on_disk = camera_files(camera)
        # Within seconds of the database coming back, every closed file is in the chain.
        closed = {relative_path(p) for p in on_disk[:-1]}
        wait_for(
            lambda: closed <= {s.path for s in chained(camera)},
            tick=supervisor.tick,
            timeout=10,
            what="every closed file chained",
        )
    finally:
        supervisor.shutdown(grace=5)
    segments = chained(camera)
    assert [s.sequence for s in segments] == list(range(1, len(segments) + 1))
    assert all(s.status == Segment.Status.COMPLETE for s in segments)
    for prev, seg in zip(segments, segments[1:], strict=False):
        assert abs((seg.start - prev.end).total_seconds()) < 0.2  # time order, no hole
    assert not Gap.objects.filter(camera=camera).exclude(cause=Gap.Cause.RECORDER_DOWN).exists()
    assert "database is locked" in caplog.text


def test_a_job_the_database_refuses_is_retried_and_later_jobs_wait_for_it(caplog):
    done = []
    refusals = iter([OperationalError("database is locked")] * 2)

    def first():
        error = next(refusals, None)
        if error:
            raise error
        done.append("first")

    def second():
        done.append("second")

    indexer = Indexer(InlineExecutor())
    indexer.submit(first)
    indexer.submit(second)
    assert done == ["first", "second"]
    assert caplog.text.count("retrying in") == 2
    assert "done at attempt 3" in caplog.text


def test_at_stop_a_refused_job_gives_up_after_the_grace(short_db_timeout, caplog):
    camera = make_camera()
    indexer = Indexer()
    other = hold_database()
    try:
        indexer.submit(gaps.open_gap, camera, Gap.Cause.RECORDER_DOWN, "stopped", None)
        indexer.shutdown(grace=1.0)  # returns: it does not wait for the database forever
    finally:
        other.rollback()
        other.close()
    assert "start-up recovery will index what it left" in caplog.text
    assert not Gap.objects.exists()


def test_a_gap_starts_after_the_latest_footage_not_after_the_last_link():
    camera = make_camera()
    late = make_media(segment_dir(camera, T0) / "20261124T140010Z.mp4", seconds=2)
    early = make_media(segment_dir(camera, T0) / "20261124T140000Z.mp4", seconds=2)
    index_segment(camera, late, start=T0 + timedelta(seconds=10))
    index_segment(camera, early, start=T0)  # appended after it, as a late indexing did
    gap = gaps.open_gap(camera, Gap.Cause.RECORDER_DOWN, "stopped", T0 + timedelta(minutes=5))
    assert gap.start == T0 + timedelta(seconds=12)


def test_a_failed_tick_is_logged_and_the_recorder_goes_on(monkeypatch, caplog):
    ticks = []

    def tick(self):
        ticks.append(1)
        if len(ticks) <= 2:
            raise OperationalError("database is locked")
        os.kill(os.getpid(), signal.SIGTERM)  # the record command's stop

    monkeypatch.setattr(Supervisor, "tick", tick)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        call_command("record", interval=0.01)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert len(ticks) == 3
    assert caplog.text.count("recorder tick failed") == 2
