"""The recorder supervisor: one FFmpeg per enabled camera, restarted on any exit it did not ask for.

Shaped like healthchecks' `sendalerts`: `Supervisor.tick()` does one round of work and the
`record` command loops around it. Slow work (ffprobe, hashing, database appends) runs in one
indexer thread, in order, so a camera's chain is appended in the order its files closed and
the loop keeps watching the other cameras meanwhile.

UTC start of a segment: FFmpeg's segment list gives each file's start and end in stream time
since the run began. A file is reported 0.1-0.3 s after it closes, and it closes when the
keyframe after it arrives from the live camera, so stream time 0 ("the media epoch") is the
wall clock at which the first line arrived minus that line's end. The file name (the second
the file was opened) is later than that by FFmpeg's stream probing, so it is used only until
the first line arrives (to say "recording" and close the gap at once), and the gap's end is
then moved to the first segment's start.
"""

import collections
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections

from cameras.models import Camera

from . import ffmpeg, gaps, heartbeat
from .index import NAME_RE, index_segment, open_segment, start_from_name
from .models import Gap, Segment
from .recovery import index_unknown_files

logger = logging.getLogger(__name__)

MAX_BACKOFF = 60.0
FIRST_RETRY = 1.5  # the issue asks for the first retry within 2 s
STOP_GRACE = 10.0


def with_parent_death_signal(argv: list[str]) -> list[str]:
    """FFmpeg gets SIGTERM if the supervisor dies (kill -9), so it never runs orphaned behind
    the next recorder's back. util-linux's setpriv sets it between fork and exec; a Python
    preexec_fn is not safe in this threaded process."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else argv


class InlineExecutor:
    """Runs jobs at once, for tests that call tick() and want rows immediately."""

    def submit(self, fn, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def shutdown(self, wait: bool = True) -> None:
        pass


def _job(fn):
    """Indexer-thread job: its own connection hygiene, never lets an error kill the thread."""

    def run(*args, **kwargs):
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        except Exception:
            logger.exception("recorder job %s failed", fn.__name__)

    run.__name__ = fn.__name__
    return run


@_job
def index_closed(camera_id: int, path: Path, start: datetime, first: bool = False) -> None:
    camera = Camera.objects.get(pk=camera_id)
    try:
        segment = index_segment(camera, path, start=start)
    except ffmpeg.FFmpegError as e:
        logger.error("camera %s: closed file %s unreadable: %s", camera, path.name, e)
        return
    if first:
        gaps.align_resumed_gap(camera, segment.start)


@_job
def opened(camera_id: int, path: Path) -> None:
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is not None:
        open_segment(camera, path)


@_job
def handle_exit(
    camera_id: int, paths: list[Path], starts: dict, cause: str, detail: str, at: datetime
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


@_job
def resume(camera_id: int, at: datetime) -> None:
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is not None:
        gaps.close_gaps(camera, at)


def recording_fingerprint(camera: Camera) -> tuple:
    """What, if changed, needs a new FFmpeg run."""
    return (
        camera.source,
        camera.main_stream_uri,
        camera.username,
        camera.password,
        camera.record_audio,
        settings.SEGMENT_SECONDS,
    )


class Run:
    """One FFmpeg process for one camera, and what the supervisor knows of it."""

    def __init__(self, camera: Camera, now: float):
        self.camera_id = camera.pk
        self.name = camera.name
        self.fingerprint = recording_fingerprint(camera)
        self.redact = camera.redact
        self.dir = Path(settings.RECORDINGS_DIR) / camera.slug
        self.launched_at = now
        self.epoch: float | None = None  # when recording was first seen (file name)
        self.media_epoch: float | None = None  # wall clock of stream time 0 (segment list)
        self.last_csv_end = 0.0
        self.closed: collections.deque = collections.deque()
        self.stderr: collections.deque = collections.deque(maxlen=20)
        self.stop_reason: tuple[str, str] | None = None  # (cause, detail) when we stop it
        self.last_size = -1
        self.last_growth = now
        self.open_name = ""  # the file FFmpeg writes now, once it holds data
        self.ensure_dirs(now)
        self.before = {p.name for p in self.recent_files(now)}  # earlier runs' files
        self.proc = subprocess.Popen(
            with_parent_death_signal(self.argv(camera)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env={**os.environ, "TZ": "UTC"},
        )
        for stream, sink in ((self.proc.stdout, self.on_csv), (self.proc.stderr, self.on_err)):
            threading.Thread(target=self.pump, args=(stream, sink), daemon=True).start()
        logger.info("camera %s: FFmpeg started (pid %d)", self.name, self.proc.pid)

    def argv(self, camera: Camera) -> list[str]:
        template = str(self.dir / "%Y-%m-%d" / "%Y%m%dT%H%M%SZ.mp4")
        if camera.source == Camera.Source.TEST_PATTERN:
            return ffmpeg.test_pattern_argv(template, segment_seconds=settings.SEGMENT_SECONDS)
        return ffmpeg.record_argv(
            camera.recording_url(),
            template,
            segment_seconds=settings.SEGMENT_SECONDS,
            timeout_seconds=settings.RTSP_TIMEOUT_SECONDS,
            audio=camera.record_audio,
        )

    def ensure_dirs(self, now: float) -> None:
        """FFmpeg does not create the day folders in its strftime template: today and tomorrow."""
        for offset in (0, 1):
            day = datetime.fromtimestamp(now, UTC) + timedelta(days=offset)
            (self.dir / f"{day:%Y-%m-%d}").mkdir(parents=True, exist_ok=True)

    @staticmethod
    def pump(stream, sink) -> None:
        for line in stream:
            sink(line)

    def on_csv(self, line: str) -> None:
        closed = ffmpeg.parse_segment_list_line(line)
        if closed is not None:
            self.closed.append((closed, time.time()))

    def on_err(self, line: str) -> None:
        if line.strip():
            self.stderr.append(self.redact(line.strip()))

    @property
    def last_error(self) -> str:
        return self.stderr[-1] if self.stderr else ""

    def path_of(self, name: str) -> Path:
        start = start_from_name(Path(name))
        return self.dir / f"{start:%Y-%m-%d}" / name

    def set_epoch(self, first_name: str) -> float:
        if self.epoch is None:
            named = start_from_name(Path(first_name))
            self.epoch = max(self.launched_at, named.timestamp() if named else 0.0)
        return self.epoch

    def recent_files(self, now: float) -> list[Path]:
        files = []
        for offset in (0, 1):
            day = datetime.fromtimestamp(now, UTC) - timedelta(days=offset)
            files += [
                p for p in (self.dir / f"{day:%Y-%m-%d}").glob("*.mp4") if NAME_RE.match(p.name)
            ]
        return files

    def own_files(self, now: float | None = None) -> list[Path]:
        """The files this run created, in today's or yesterday's folder."""
        return [p for p in self.recent_files(now or time.time()) if p.name not in self.before]

    def newest_file(self, now: float | None = None) -> Path | None:
        """The file this run writes now."""
        return max(self.own_files(now), key=lambda p: p.name, default=None)

    def starts_of_open_file(self) -> dict:
        """The first-frame time of the file open when this run ended, if known."""
        newest = self.newest_file()
        if newest is None or self.media_epoch is None:
            return {}  # the time in its name is the best there is
        return {newest.name: datetime.fromtimestamp(self.media_epoch + self.last_csv_end, UTC)}

    def stop(self, cause: str, detail: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = (cause, detail)
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)  # FFmpeg finalises the open segment

    def kill(self, cause: str, detail: str) -> None:
        self.stop_reason = self.stop_reason or (cause, detail)
        if self.proc.poll() is None:
            self.proc.kill()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Supervisor:
    def __init__(self, executor=None, clock=time.time, sync_interval: float = 2.0):
        self.runs: dict[int, Run] = {}
        self.retry_at: dict[int, float] = {}
        self.failures: dict[int, int] = {}
        self.cameras: dict[int, Camera] = {}
        self.executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="index")
        self.clock = clock
        self.sync_interval = sync_interval
        self.last_sync = float("-inf")
        self.last_beat = float("-inf")
        self.stopping = False

    def tick(self) -> None:
        now = self.clock()
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
            else:
                run.ensure_dirs(now)
        for camera in self.cameras.values():
            if not camera.is_enabled and camera.pk not in self.runs:
                self.retry_at.pop(camera.pk, None)
                if camera.status != Camera.Status.DISABLED:
                    camera.set_status(Camera.Status.DISABLED, error="")
                    if Segment.objects.filter(camera=camera).exists():
                        self.executor.submit(
                            handle_exit,
                            camera.pk,
                            [],
                            {},
                            Gap.Cause.DISABLED,
                            "camera disabled",
                            _utc(now),
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
                    self.runs[camera.pk] = Run(camera, now)
                except OSError as e:  # ffmpeg missing, disk unwritable
                    self.failed(camera.pk, f"cannot start FFmpeg: {e}", now)

    @staticmethod
    def name_taken(camera: Camera, now: float) -> bool:
        """A file already named for this second: FFmpeg would overwrite it. Wait a second."""
        moment = datetime.fromtimestamp(now, UTC)
        return (
            Path(settings.RECORDINGS_DIR)
            / camera.slug
            / f"{moment:%Y-%m-%d}"
            / f"{moment:%Y%m%dT%H%M%S}Z.mp4"
        ).exists()

    def collect(self, run: Run) -> None:
        """Index the files FFmpeg reported closed."""
        while run.closed:
            closed, received_at = run.closed.popleft()
            first = run.media_epoch is None
            if first:
                run.media_epoch = max(run.launched_at, received_at - closed.end)
            if run.epoch is None:
                self.recording(run, run.set_epoch(closed.name))
            run.last_csv_end = closed.end
            self.executor.submit(
                index_closed,
                run.camera_id,
                run.path_of(closed.name),
                _utc(run.media_epoch + closed.start),
                first,
            )

    def recording(self, run: Run, epoch: float) -> None:
        self.failures[run.camera_id] = 0
        camera = self.cameras.get(run.camera_id)
        if camera is not None:
            camera.set_status(Camera.Status.RECORDING, error="")
        self.executor.submit(resume, run.camera_id, _utc(epoch))

    def watch(self, run: Run, now: float) -> None:
        """Notice a stream that stopped delivering and kill that FFmpeg (and only it)."""
        newest = run.newest_file(now)
        size = newest.stat().st_size if newest is not None else 0
        if size > 0 and newest.name != run.open_name:
            run.open_name = newest.name
            self.executor.submit(opened, run.camera_id, newest)
        if run.epoch is None:
            if size > 0:
                self.recording(run, run.set_epoch(newest.name))
            elif now - run.launched_at > settings.RTSP_TIMEOUT_SECONDS + settings.STALL_SECONDS:
                run.kill(
                    Gap.Cause.CAMERA_UNREACHABLE,
                    run.last_error or "no media from the camera after connecting",
                )
            return
        if size != run.last_size:
            run.last_size, run.last_growth = size, now
        elif now - run.last_growth > settings.STALL_SECONDS:
            run.kill(
                Gap.Cause.STALLED,
                f"no new data for {settings.STALL_SECONDS} s; FFmpeg killed and restarted",
            )

    def reap(self, run: Run, now: float) -> None:
        """An FFmpeg run ended: index what it left, record the gap, plan the restart."""
        del self.runs[run.camera_id]
        code = run.proc.returncode
        if run.stop_reason is not None:
            cause, detail = run.stop_reason
        else:
            cause = gaps.classify_exit(run.last_error, code)
            detail = run.last_error or (
                "the camera ended the stream (FFmpeg exited with status 0)"
                if code == 0
                else f"FFmpeg exited with status {code} and no error message"
            )
        logger.warning(
            "camera %s: FFmpeg (pid %d) ended with %s: %s: %s",
            run.name,
            run.proc.pid,
            code,
            cause,
            detail,
        )
        self.executor.submit(
            handle_exit,
            run.camera_id,
            run.own_files(now),
            run.starts_of_open_file(),
            cause,
            detail,
            _utc(now),
        )
        planned = run.stop_reason is not None and cause in (
            Gap.Cause.DISABLED,
            Gap.Cause.FFMPEG_EXITED,
            Gap.Cause.RECORDER_DOWN,
        )
        camera = self.cameras.get(run.camera_id)
        if cause == Gap.Cause.DISABLED and camera is not None:
            camera.set_status(Camera.Status.DISABLED, error="")
        elif not planned:
            self.failed(run.camera_id, detail, now)

    def failed(self, camera_id: int, error: str, now: float) -> None:
        failures = self.failures.get(camera_id, 0) + 1
        self.failures[camera_id] = failures
        delay = min(MAX_BACKOFF, FIRST_RETRY * 2 ** (failures - 1))
        self.retry_at[camera_id] = now + delay
        camera = self.cameras.get(camera_id)
        if camera is not None:
            status = Camera.Status.RECONNECTING if failures <= 3 else Camera.Status.OFFLINE
            camera.set_status(status, error=f"{error} (retry in {delay:.0f} s)")

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
        self.executor.shutdown(wait=True)
        heartbeat.stop()
        for camera in self.cameras.values():
            if camera.is_enabled:
                camera.set_status(Camera.Status.IDLE, error="")
