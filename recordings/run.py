"""One FFmpeg run for one camera: the process, its output files, and what it reported.

The supervisor (recorder.py) owns the runs; a run never touches the database.
Files of a run are `<camera>/<day the run started>/<run start>Z-<number>.mp4`: FFmpeg
numbers them, so no name repeats whatever the clock does (see ffmpeg.segment_output_args).
"""

import collections
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from django.conf import settings

from cameras.models import Camera
from crimebox import ffrun

from . import ffmpeg
from .index import run_template

logger = logging.getLogger(__name__)

# (closed segment, wall clock when reported, monotonic clock when reported)
Report = tuple[ffmpeg.ClosedSegment, float, float]


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


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class Run:
    """One FFmpeg process for one camera, and what the supervisor knows of it.

    Times are the supervisor's wall clock (`clock`) unless named `*_mono`.
    """

    def __init__(self, camera: Camera, now: float, clock: Callable[[], float] = time.time) -> None:
        self.camera_id: int = camera.pk
        self.name: str = camera.name
        self.fingerprint = recording_fingerprint(camera)
        self.redact: Callable[[str], str] = camera.redact
        self.clock = clock
        self.started = utc(int(now))
        template = run_template(camera, self.started)
        self.dir: Path = template.parent.resolve()
        self.prefix = template.name.split("%")[0]
        self.launched_at = now
        self.epoch: float | None = None  # when recording was first seen
        self.media_epoch: float | None = None  # wall clock of stream time 0 (segment list)
        self.last_csv_end = 0.0
        self.last_report_mono: float | None = None
        self.closed: collections.deque[Report] = collections.deque()
        self.stderr: collections.deque[str] = collections.deque(maxlen=20)
        self.stop_reason: tuple[str, str] | None = None  # (cause, detail) when we stop it
        self.stop_mono: float | None = None
        self.last_size = -1
        self.last_growth = now  # the last sign of progress: FFmpeg's reports, the file
        self.progress: dict[str, str] = {}  # FFmpeg's last -progress values
        self.advances = 0  # counted by the stdout reader thread
        self.advances_seen = 0
        self.open_name = ""  # the file FFmpeg writes now, once it holds data
        self.clock_note = ""  # for the file open when the box's clock stepped
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = ffrun.start(
            self.argv(camera, str(self.dir / template.name)),
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

    @staticmethod
    def argv(camera: Camera, template: str) -> list[str]:
        if camera.source == Camera.Source.TEST_PATTERN:
            return ffmpeg.test_pattern_argv(
                template,
                segment_seconds=settings.SEGMENT_SECONDS,
                size=settings.TEST_PATTERN_SIZE,
                fps=settings.TEST_PATTERN_FPS,
            )
        return ffmpeg.record_argv(
            camera.recording_url(),
            template,
            segment_seconds=settings.SEGMENT_SECONDS,
            timeout_seconds=settings.RTSP_TIMEOUT_SECONDS,
            audio=camera.record_audio,
        )

    @staticmethod
    def pump(stream: IO[str], sink: Callable[[str], None]) -> None:
        for line in stream:
            sink(line)

    def on_csv(self, line: str) -> None:
        """Stdout: the segment list (closed files) and FFmpeg's progress reports."""
        progress = ffmpeg.parse_progress_line(line)
        if progress is not None:
            key, value = progress
            if self.progress.get(key) != value:
                self.progress[key] = value
                self.advances += 1
            return
        closed = ffmpeg.parse_segment_list_line(line)
        if closed is not None:
            self.closed.append((closed, self.clock(), time.monotonic()))
            self.advances += 1

    def advanced(self) -> bool:
        """FFmpeg reported progress (more frames muxed, a file closed) since the last call."""
        seen, self.advances_seen = self.advances_seen, self.advances
        return self.advances != seen

    def on_err(self, line: str) -> None:
        if line.strip():
            self.stderr.append(self.redact(line.strip()))

    @property
    def last_error(self) -> str:
        return self.stderr[-1] if self.stderr else ""

    def own_files(self) -> list[Path]:
        """The files this run created, in the order FFmpeg wrote them."""
        return sorted(self.dir.glob(f"{self.prefix}*.mp4"))

    def writing(self) -> tuple[Path, int, bool] | None:
        """The file FFmpeg has open now, its size, and whether it is gone from its place.

        Read from /proc (the descriptor, not a name): whatever the clock or the folder say,
        this is the file that grows, and a file deleted under FFmpeg shows as "(deleted)".
        """
        fds = Path(f"/proc/{self.proc.pid}/fd")
        try:
            entries = list(fds.iterdir())
        except OSError:  # no /proc to read (not Linux, or hidden): the highest number
            return self.newest_file()
        for fd in entries:
            try:
                target = os.readlink(fd)
                size = os.stat(fd).st_size
            except OSError:
                continue
            name = target.removesuffix(" (deleted)")
            if name.endswith(".mp4"):
                path = Path(name)
                gone = target != name or path.parent != self.dir or not path.exists()
                return path, size, gone
        return None

    def newest_file(self) -> tuple[Path, int, bool] | None:
        files = self.own_files()
        try:
            return (files[-1], files[-1].stat().st_size, False) if files else None
        except OSError:
            return None

    def open_start(self, now: float) -> datetime:
        """Best guess at the start of the file now open: the previous one's end."""
        if self.media_epoch is None:
            return utc(now)
        return utc(self.media_epoch + self.last_csv_end)

    def starts_of_open_file(self) -> dict[str, datetime]:
        """The first-frame time of the file open when this run ended, if known."""
        files = self.own_files()
        if not files or self.media_epoch is None:
            return {}  # estimated from the file itself
        return {files[-1].name: utc(self.media_epoch + self.last_csv_end)}

    def rebase(self, step: float) -> None:
        """The box's clock stepped by `step` s: keep this run's times on the new clock."""
        for attr in ("launched_at", "epoch", "media_epoch", "last_growth"):
            if getattr(self, attr) is not None:
                setattr(self, attr, getattr(self, attr) + step)
        self.clock_note = f"the box's clock stepped {step:+.1f} s while this file was recorded"

    def stop(self, cause: str, detail: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = (cause, detail)
            self.stop_mono = time.monotonic()
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)  # FFmpeg finalises the open segment

    def kill(self, cause: str, detail: str) -> None:
        self.stop_reason = self.stop_reason or (cause, detail)
        if self.proc.poll() is None:
            self.proc.kill()
