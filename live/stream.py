"""One live FFmpeg for one camera, and what its stderr says when it ends."""

import collections
import logging
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from django.conf import settings

from cameras.models import Camera
from crimebox import ffrun, rtsp_guard
from recordings import ffmpeg

from . import state

logger = logging.getLogger(__name__)
READER_JOIN = 2.0  # seconds; the pipe closes when FFmpeg exits

STOP_GRACE = 3.0

REFUSED = (
    "The camera refused another video session ({reason}). Cameras allow only a few at once "
    "(often 2-4) and the recorder always holds one: close other viewers of this camera "
    "(a VMS, an NVR, VLC) or raise its limit. The box retries while the page is open."
)


def live_fingerprint(camera: Camera) -> tuple:
    """What, if changed, needs a new live FFmpeg."""
    return (camera.source, camera.sub_stream_uri, camera.main_stream_uri, camera.username,
            camera.password)  # fmt: skip


def explain_exit(lines: list[str], returncode: int | None) -> str:
    """One sentence for the page from FFmpeg's last stderr lines (already redacted)."""
    refused = rtsp_guard.refusal(lines)
    if refused:
        return f"The box {refused}: its credentials only go to the camera's own host."
    text = " ".join(lines[-3:])
    for code, reason in (("503", "RTSP 503 Service Unavailable"),
                         ("453", "RTSP 453 Not Enough Bandwidth")):  # fmt: skip
        if f"{code} " in text or f"{code}:" in text:
            return REFUSED.format(reason=reason)
    if "401" in text or "Unauthorized" in text:
        return "The camera refused the box's user name or password for this stream (401)."
    if "404" in text or "Not Found" in text:
        return "The camera has no stream at this URL (404 Not Found): check its substream."
    for words in ("Connection refused", "No route to host", "timed out", "Network is unreachable"):
        if words.lower() in text.lower():
            return f"Cannot reach the camera's stream: {words.lower()}."
    if returncode == 0 or not text:
        return "The camera stopped sending video."
    return f"FFmpeg stopped: {lines[-1]}"


class Stream:
    """A running live FFmpeg writing HLS into LIVE_DIR/camNNNN/."""

    def __init__(self, camera: Camera, now: float):
        self.camera_id = camera.pk
        self.slug = camera.slug
        self.name = camera.name
        self.fingerprint = live_fingerprint(camera)
        self.redact = camera.redact
        self.dir = state.stream_dir(camera.slug)
        self.started_at = now
        self.stderr: collections.deque = collections.deque(maxlen=20)
        clear_dir(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = ffrun.start(
            self.argv(camera),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.reader = threading.Thread(target=self.pump, daemon=True)
        self.reader.start()
        logger.info("live %s: FFmpeg started (pid %d)", self.name, self.proc.pid)

    def argv(self, camera: Camera) -> list[str]:
        if camera.source == Camera.Source.TEST_PATTERN:
            return ffmpeg.test_pattern_live_argv(
                self.dir, size=settings.TEST_PATTERN_SIZE, fps=settings.TEST_PATTERN_FPS
            )
        return ffmpeg.live_argv(
            camera.live_url(), self.dir, timeout_seconds=settings.RTSP_TIMEOUT_SECONDS
        )

    def pump(self) -> None:
        assert self.proc.stderr is not None  # stderr=PIPE
        for line in self.proc.stderr:
            if line.strip():
                self.stderr.append(self.redact(line.strip()))

    @property
    def playlist(self) -> Path:
        return self.dir / ffmpeg.LIVE_PLAYLIST

    def playlist_age(self, now: float) -> float | None:
        """Seconds since FFmpeg last rewrote the playlist (it does at each segment)."""
        try:
            return now - self.playlist.stat().st_mtime
        except FileNotFoundError:
            return None

    def exit_message(self) -> str:
        self.reader.join(READER_JOIN)  # it ends at FFmpeg's last line (EOF)
        return explain_exit(list(self.stderr), self.proc.returncode)

    def stop(self) -> None:
        """SIGTERM, SIGKILL after a grace; then the segments go (they are RAM)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        clear_dir(self.dir)
        logger.info("live %s: FFmpeg (pid %d) stopped", self.name, self.proc.pid)


def clear_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
