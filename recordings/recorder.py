"""The recorder supervisor: one FFmpeg per enabled camera, restarted on any exit it did not ask for.

Shaped like healthchecks' `sendalerts`: `Supervisor.tick()` does one round of work and the
`record` command loops around it (`supervise`: a failed tick is logged and the loop goes on
after a short back-off). Slow work runs off the loop (indexer.py): each closed file is hashed
at once, and every database write (rows, chain links, gaps, camera status) runs in one writer
thread, in order, retried while the database is held by another process, so a camera's
chain is appended in the order its files closed and the loop keeps watching the cameras
meanwhile. One FFmpeg process is a `Run` (run.py).

UTC start of a segment: FFmpeg's segment list gives each file's start and end in stream time
since the run began. A file is reported 0.1-0.3 s after it closes, and it closes when the
keyframe after it arrives from the live camera, so stream time 0 ("the media epoch") is the
wall clock at which the first line arrived minus that line's end. Until the first line
arrives, the moment the first file held data says "recording" (and closes the gap at once);
the gap's end is then moved to the first segment's start.

The box's clock can step (a Pi has no battery clock; NTP steps it after a power cut, either
way): the supervisor notices its wall clock moving against the monotonic one, records the
step (a clock-step Gap, notes on the segments whose times it made wrong) and moves every
run's times onto the new clock. File names never depend on the clock.
"""

import errno
import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Executor

from django.conf import settings

from cameras.models import Camera
from crimebox import rtsp_guard
from crimebox.ffrun import FFmpegError

from . import gaps, heartbeat
from .index import run_name_taken
from .indexer import (
    Indexer,
    clock_stepped,
    handle_exit,
    index_closed,
    opened,
    resume,
    set_status,
    stream_refused,
)
from .models import Gap, Segment
from .run import Run, recording_fingerprint, utc

logger = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
MAX_TICK_BACKOFF = 10.0  # after failed ticks in a row (the database away, a bug)
FIRST_RETRY = 1.5  # the issue asks for the first retry within 2 s
# A full disk is retried this often, never backed off: the exit pruned, space may be back.
DISK_FULL_RETRY = 2.0
STOP_GRACE = 10.0
# Between two ticks the wall clock may move this much against the monotonic clock (NTP
# slews at most 0.5 ms/s); more is a step.
CLOCK_STEP_SECONDS = 2.0
# FFmpeg's open segment deleted or moved: restarted at once, not backed off.
PLANNED_RESTARTS = (
    Gap.Cause.DISABLED,
    Gap.Cause.FFMPEG_EXITED,
    Gap.Cause.RECORDER_DOWN,
    Gap.Cause.FILE_LOST,
)


def disk_is_full() -> bool:
    """Less than a fragment's worth left: whatever FFmpeg's last line says, it was the disk."""
    try:
        return shutil.disk_usage(settings.RECORDINGS_DIR).free < gaps.DISK_FULL_BYTES
    except OSError:
        return False


class Supervisor:
    def __init__(
        self,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.time,
        sync_interval: float = 2.0,
    ) -> None:
        self.runs: dict[int, Run] = {}
        self.retry_at: dict[int, float] = {}
        self.failures: dict[int, int] = {}
        self.cameras: dict[int, Camera] = {}
        self.indexer = Indexer(executor)
        # The status last written per camera: the writes queue behind the indexer's.
        self.statuses: dict[int, str] = {}
        self.clock = clock
        self.sync_interval = sync_interval
        self.last_sync = float("-inf")
        self.last_beat = float("-inf")
        self.clock_offset: float | None = None  # wall minus monotonic at the last tick
        self.stopping = False

    def tick(self) -> None:
        now = self.clock()
        self.check_clock(now)
        if now - self.last_beat >= heartbeat.INTERVAL:
            self.last_beat = now
            heartbeat.beat(now)
        if now - self.last_sync >= self.sync_interval:
            self.sync(now)
        for run in list(self.runs.values()):
            self.collect(run)
            if run.proc.poll() is not None:
                self.reap(run, now)
            else:
                self.watch(run, now)
        if not self.stopping:
            self.start_due(now)

    def check_clock(self, now: float) -> None:
        offset = now - time.monotonic()
        if self.clock_offset is not None and abs(offset - self.clock_offset) > CLOCK_STEP_SECONDS:
            step = offset - self.clock_offset
            logger.warning("the box's clock stepped %+.1f s (now %s)", step, utc(now))
            for run in self.runs.values():
                run.rebase(step)
            self.retry_at = {k: v + step for k, v in self.retry_at.items()}
            self.last_sync = self.last_beat = float("-inf")
            cameras = [c.pk for c in self.cameras.values() if c.is_enabled]
            self.indexer.submit(clock_stepped, cameras, step, utc(now))
        self.clock_offset = offset

    def sync(self, now: float) -> None:
        """Pick up cameras added, changed, enabled or disabled since the last look."""
        self.last_sync = now
        self.cameras = {c.pk: c for c in Camera.objects.all()}
        for camera_id, run in self.runs.items():
            camera = self.cameras.get(camera_id)
            if camera is None or not camera.is_enabled:
                run.stop(Gap.Cause.DISABLED, "camera disabled")
            elif recording_fingerprint(camera) != run.fingerprint:
                run.stop(Gap.Cause.FFMPEG_EXITED, "restarted: camera settings changed")
        for camera in self.cameras.values():
            if not camera.is_enabled and camera.pk not in self.runs:
                self.retry_at.pop(camera.pk, None)
                if self.statuses.get(camera.pk, camera.status) != Camera.Status.DISABLED:
                    self.set_status(camera.pk, Camera.Status.DISABLED)
                    if Segment.objects.filter(camera=camera).exists():
                        self.indexer.submit(
                            handle_exit,
                            camera.pk,
                            [],
                            {},
                            Gap.Cause.DISABLED,
                            "camera disabled",
                            utc(now),
                        )

    def start_due(self, now: float) -> None:
        for camera in self.cameras.values():
            if (
                camera.is_enabled
                and camera.pk not in self.runs
                and self.retry_at.get(camera.pk, 0) <= now
                and not self.name_taken(camera, now)
            ):
                try:
                    self.runs[camera.pk] = Run(camera, now, clock=self.clock)
                except (OSError, FFmpegError) as e:  # no ffmpeg, disk, bad URL
                    full = getattr(e, "errno", None) == errno.ENOSPC
                    cause = Gap.Cause.DISK_FULL if full else None
                    self.failed(camera.pk, f"cannot start FFmpeg: {e}", now, cause)
                    if full:
                        self.indexer.submit(handle_exit, camera.pk, [], {}, cause, str(e), utc(now))

    @staticmethod
    def name_taken(camera: Camera, now: float) -> bool:
        """A file already carries this second (an earlier run, or the clock stepped back):
        a run started now could reuse a name. Wait a second."""
        return run_name_taken(camera, utc(int(now)))

    def collect(self, run: Run) -> None:
        """Index the files FFmpeg reported closed."""
        while run.closed:
            closed, wall, mono = run.closed.popleft()
            first = run.media_epoch is None
            media_epoch = run.media_epoch
            if media_epoch is None:
                media_epoch = run.media_epoch = max(run.launched_at, wall - closed.end)
            if run.epoch is None:
                self.recording(run, media_epoch)
            took = None if run.last_report_mono is None else mono - run.last_report_mono
            run.last_report_mono = mono
            run.last_csv_end = closed.end
            note, run.clock_note = run.clock_note, ""
            path = run.dir / closed.name
            self.indexer.submit(
                index_closed,
                run.camera_id,
                path,
                utc(media_epoch + closed.start),
                first,
                took,
                note,
                self.indexer.hash(path),  # at once, even while the database is held
            )

    def recording(self, run: Run, epoch: float) -> None:
        run.epoch = epoch
        self.failures[run.camera_id] = 0
        self.set_status(run.camera_id, Camera.Status.RECORDING)
        self.indexer.submit(resume, run.camera_id, utc(epoch))

    def watch(self, run: Run, now: float) -> None:
        """Notice a stream that stopped delivering (no progress reported by FFmpeg, no byte
        written), or a file that vanished under FFmpeg, and stop that FFmpeg (and only it).
        Follows the file FFmpeg has open, not a name."""
        reason = run.stop_reason  # set with stop_mono (Run.stop)
        if run.stop_mono is not None and time.monotonic() - run.stop_mono > STOP_GRACE:
            assert reason is not None
            run.kill(*reason)
        path, size, gone = run.writing() or (None, 0, False)
        if path is not None and gone:
            run.stop(
                Gap.Cause.FILE_LOST,
                f"{path.name} was deleted or moved while FFmpeg wrote it; FFmpeg restarted",
            )
            return
        if path is not None and size > 0 and path.name != run.open_name:
            run.open_name = path.name
            self.indexer.submit(opened, run.camera_id, path, run.open_start(now))
        if run.epoch is None:
            if size > 0:
                self.recording(run, now)
            elif now - run.launched_at > settings.RTSP_TIMEOUT_SECONDS + settings.STALL_SECONDS:
                run.kill(
                    Gap.Cause.CAMERA_UNREACHABLE,
                    run.last_error or "no media from the camera after connecting",
                )
            return
        # FFmpeg's own progress, not the file's size alone: a segment no longer than the
        # camera's keyframe interval stays at its header size until it closes, and so does
        # the next (measured: 103 healthy FFmpegs killed in 23 min with 2 s segments).
        if run.advanced() or size != run.last_size:
            run.last_size, run.last_growth = size, now
        elif now - run.last_growth > settings.STALL_SECONDS:
            run.kill(
                Gap.Cause.STALLED,
                f"no new data for {settings.STALL_SECONDS} s; FFmpeg killed and restarted",
            )

    def exit_cause(self, run: Run) -> tuple[str, str]:
        if run.stop_reason is not None:
            return run.stop_reason
        code = run.proc.returncode
        lines = list(run.stderr)
        cause = gaps.classify_exit(lines, code, disk_full=disk_is_full())
        # What the relay told FFmpeg is said before its last line ("Server returned 5XX").
        said = rtsp_guard.said(lines)
        if not said and code == 0 and cause == Gap.Cause.CAMERA_UNREACHABLE:
            last = f"; its last line: {lines[-1]}" if lines and lines[-1] else ""
            return cause, f"the camera ended the stream (FFmpeg exited with status 0){last}"
        detail = (
            said
            or gaps.telling_line(lines, cause)
            or f"FFmpeg exited with status {code} and no error message"
        )
        return cause, detail

    def reap(self, run: Run, now: float) -> None:
        """An FFmpeg run ended: index what it left, record the gap, plan the restart."""
        del self.runs[run.camera_id]
        cause, detail = self.exit_cause(run)
        logger.warning(
            "camera %s: FFmpeg (pid %d) ended with %s: %s: %s",
            run.name,
            run.proc.pid,
            run.proc.returncode,
            cause,
            detail,
        )
        self.indexer.submit(
            handle_exit,
            run.camera_id,
            run.own_files(),
            run.starts_of_open_file(),
            cause,
            detail,
            utc(now),
        )
        refused = rtsp_guard.refusal(list(run.stderr))
        if refused:
            self.indexer.submit(stream_refused, run.camera_id, refused)
        planned = run.stop_reason is not None and cause in PLANNED_RESTARTS
        if cause == Gap.Cause.DISABLED:
            self.set_status(run.camera_id, Camera.Status.DISABLED)
        elif not planned:
            self.failed(run.camera_id, detail, now, cause)

    def failed(self, camera_id: int, error: str, now: float, cause: str | None = None) -> None:
        failures = self.failures.get(camera_id, 0) + 1
        self.failures[camera_id] = failures
        delay = min(MAX_BACKOFF, FIRST_RETRY * 2 ** (failures - 1))
        if cause == Gap.Cause.DISK_FULL:
            delay = DISK_FULL_RETRY
        self.retry_at[camera_id] = now + delay
        status = Camera.Status.RECONNECTING if failures <= 3 else Camera.Status.OFFLINE
        self.set_status(camera_id, status, f"{error} (retry in {delay:.0f} s)")

    def set_status(self, camera_id: int, status: str, error: str = "") -> None:
        """Queued behind the indexer's writes: the loop itself never waits on the database."""
        if camera_id in self.cameras:
            self.statuses[camera_id] = status
            self.indexer.submit(set_status, camera_id, status, error)

    def shutdown(self, grace: float = STOP_GRACE) -> None:
        """Stop every FFmpeg cleanly (open segments are finalised and indexed)."""
        self.stopping = True
        for run in self.runs.values():
            run.stop(Gap.Cause.RECORDER_DOWN, "recorder stopped")
        deadline = time.monotonic() + grace
        while any(r.proc.poll() is None for r in self.runs.values()):
            if time.monotonic() > deadline:
                for run in self.runs.values():
                    run.kill(Gap.Cause.RECORDER_DOWN, "recorder stopped")
            time.sleep(0.1)
        time.sleep(0.3)  # let the pipe readers deliver FFmpeg's last segment-list lines
        for run in list(self.runs.values()):
            self.collect(run)
            self.reap(run, self.clock())
        for camera in self.cameras.values():
            if camera.is_enabled:
                self.set_status(camera.pk, Camera.Status.IDLE)
        self.indexer.shutdown(grace)
        heartbeat.stop()


def supervise(supervisor: Supervisor, interval: float, stopping: Callable[[], bool]) -> None:
    """The record command's loop: tick until `stopping()`. A tick that fails (a database
    error, a bug) is logged and the loop goes on after a bounded back-off: one error must
    not stop every camera."""
    failures = 0
    while not stopping():
        try:
            supervisor.tick()
            failures = 0
        except Exception:
            failures += 1
            logger.exception("recorder tick failed (%d in a row); going on", failures)
        pause = min(MAX_TICK_BACKOFF, interval * 2**failures) if failures else interval
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline and not stopping():
            time.sleep(min(0.1, pause))
