"""The recorder's slow work, off its supervision loop: hashing, and every database write.

Two threads. The hasher probes, seals and hashes each file as soon as FFmpeg reports it
closed, whatever the database is doing. The writer runs the jobs below (rows, chain links,
gaps, camera status) one at a time, in the order the supervisor submitted them, so a
camera's chain is appended in the order its files closed.

A job the database refuses ("database is locked": another process held a write transaction
longer than SQLite's timeout) is retried in place after a bounded back-off, and no later job
runs before it: a later segment is never chained while an earlier one of the same camera
waits, so the chain follows time and a gap opened later starts after the footage. Only when
the recorder stops does a job give up (after the stop's grace): start-up recovery then
indexes, in name (time) order, the files it left.
"""

import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import InterfaceError, OperationalError, close_old_connections, connection

from cameras.audit import stream_redirect_refused
from cameras.models import Camera
from crimebox import ffrun

from . import gaps
from .index import Measured, index_segment, mark_lost, measure, open_segment
from .models import Gap
from .recovery import index_unknown_files

logger = logging.getLogger("recordings.recorder")

FIRST_RETRY = 0.5
MAX_RETRY = 5.0  # "retried within seconds", however long the database was held
# Errors of the database itself (locked, busy, gone): the same job will work again later.
TRANSIENT = (OperationalError, InterfaceError)


def measured_or_error(path: Path) -> Measured | Exception:
    """The hasher's job: never raises, so a test's inline executor behaves like a thread."""
    try:
        measured = measure(path)
    except (ffrun.FFmpegError, OSError) as e:
        return e
    logger.debug("hashed %s sha256=%s", path.name, measured.sha256[:12])
    return measured


class Indexer:
    """The hasher and the writer. Tests pass one inline executor for both."""

    def __init__(self, executor: Executor | None = None) -> None:
        self.writer = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="index")
        self.hasher = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash")
        self.give_up_at: float | None = None  # monotonic; set when the recorder stops

    def hash(self, path: Path) -> "Future[Measured | Exception]":
        return self.hasher.submit(measured_or_error, path)

    def submit(self, job: Callable[..., None], *args: Any) -> "Future[None]":
        return self.writer.submit(self.run, job, *args)

    def run(self, job: Callable[..., None], *args: Any) -> None:
        """One job, retried while the database refuses it; any other error is logged."""
        delay, attempt = FIRST_RETRY, 1
        while True:
            close_old_connections()
            try:
                job(*args)
                if attempt > 1:
                    logger.warning("recorder job %s done at attempt %d", job.__name__, attempt)
                return
            except TRANSIENT as e:
                connection.close()  # a failed BEGIN IMMEDIATE can leave it half-open
                if self.give_up_at is not None and time.monotonic() + delay > self.give_up_at:
                    logger.error(
                        "recorder job %s failed %d time(s) (%s) and the recorder is stopping: "
                        "start-up recovery will index what it left",
                        job.__name__,
                        attempt,
                        e,
                    )
                    return
                logger.warning(
                    "recorder job %s failed (%s), attempt %d; retrying in %.1f s",
                    job.__name__,
                    e,
                    attempt,
                    delay,
                )
            except Exception:
                logger.exception("recorder job %s failed", job.__name__)
                return
            time.sleep(delay)
            delay, attempt = min(MAX_RETRY, delay * 2), attempt + 1

    def shutdown(self, grace: float) -> None:
        """Finish the queued jobs; a job the database still refuses gives up after `grace`."""
        self.give_up_at = time.monotonic() + grace
        self.hasher.shutdown(wait=True)
        self.writer.shutdown(wait=True)


def index_closed(
    camera_id: int,
    path: Path,
    start: datetime,
    first: bool,
    wall_seconds: float | None,
    note: str,
    hashed: "Future[Measured | Exception]",
) -> None:
    camera = Camera.objects.get(pk=camera_id)
    measured = hashed.result()
    if not path.exists():
        mark_lost(camera, path, "deleted or moved while FFmpeg wrote it: never hashed")
        return
    if isinstance(measured, Exception):
        logger.error("camera %s: closed file %s unreadable: %s", camera, path.name, measured)
        return
    segment = index_segment(
        camera, path, start=start, wall_seconds=wall_seconds, note=note, measured=measured
    )
    if first:
        gaps.align_resumed_gap(camera, segment.start)


def opened(camera_id: int, path: Path, start: datetime) -> None:
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is not None:
        open_segment(camera, path, start=start)


def handle_exit(
    camera_id: int,
    paths: list[Path],
    starts: dict[str, datetime],
    cause: str,
    detail: str,
    at: datetime,
) -> None:
    """After an FFmpeg run ended: index what it left open, open the gap.

    Jobs run in order in one thread, so the next run's "recording" row cannot exist yet.
    """
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is None:
        return
    index_unknown_files(camera, paths=paths, starts=starts, note=f"FFmpeg run ended: {cause}")
    gaps.open_gap(camera, cause, detail, at)
    if cause == Gap.Cause.DISK_FULL:
        from .retention import prune

        prune()


def stream_refused(camera_id: int, refusal: str) -> None:
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is not None:
        stream_redirect_refused(camera, refusal, via="recorder")


def resume(camera_id: int, at: datetime) -> None:
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is not None:
        gaps.close_gaps(camera, at)


def clock_stepped(camera_ids: list[int], step: float, at: datetime) -> None:
    for camera in Camera.objects.filter(pk__in=camera_ids):
        gaps.record_clock_step(camera, step, at)


def set_status(camera_id: int, status: str, error: str) -> None:
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is not None:
        camera.set_status(status, error=error)
