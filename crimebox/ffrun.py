"""Running FFmpeg and ffprobe: the one place their processes are started and their failures
named. Every way a run can fail is an FFmpegError with one readable line: ToolMissing when the
binary is not there or cannot be executed (said as such, never as a fault of the file or
stream it was to read), a timeout, or a non-zero exit with the end of what it printed,
credentials out (exit_error). Every run gets the parent-death signal. Never shell=True, never
killall: callers own the processes they start.

Argv lists are built elsewhere: recordings/ffmpeg.py (FFmpeg), crimebox/ffprobe.py (ffprobe).
"""

import contextlib
import errno
import fcntl
import functools
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from crimebox.redaction import redact_text
from crimebox.rtsp_guard import Relay

F_SETPIPE_SZ = 1031  # Linux fcntl: a pipe's buffer size


class FFmpegError(Exception):
    """FFmpeg or ffprobe failed; the message is one readable line."""


class ToolMissing(FFmpegError):
    """FFmpeg or ffprobe cannot be run at all (not installed, not executable): said as such,
    never as a fault of the file or stream it was to read."""


def cannot_run(tool: str, error: OSError) -> ToolMissing:
    return ToolMissing(
        f"{tool} cannot be run ({error.strerror or error}): install FFmpeg "
        "(or set CRIMEBOX_FFMPEG / CRIMEBOX_FFPROBE to where it is)"
    )


def with_parent_death_signal(argv: list[str]) -> list[str]:
    """FFmpeg gets SIGTERM if the process that started it dies (kill -9), so it never runs
    orphaned behind the next supervisor's or web worker's back. util-linux's setpriv sets it
    between fork and exec; a Python preexec_fn is not safe in a threaded process.

    Behind setpriv a missing tool would be setpriv's exit 127, not an OSError: it is looked
    up first, so it is still ToolMissing."""
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return argv
    if shutil.which(argv[0]) is None:
        code = errno.EACCES if os.sep in argv[0] and os.path.exists(argv[0]) else errno.ENOENT
        raise cannot_run(argv[0], OSError(code, os.strerror(code)))
    return [setpriv, "--pdeathsig", "TERM", "--", *argv]


def exit_error(argv: list[str], returncode: int, stderr: str | bytes) -> FFmpegError:
    """The one error for a run that exited non-zero: the end of what it printed, credentials
    out (or, when it printed nothing, its exit status)."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    said = redact_text(stderr.strip())[-300:]  # redacted whole: a cut could split a URL
    return FFmpegError(said or f"{Path(argv[0]).name} exited with {returncode}")


def check_exit(argv: list[str], proc: subprocess.CompletedProcess) -> None:
    """Raises the exit_error of the run of `argv` unless it exited 0."""
    if proc.returncode != 0:
        raise exit_error(argv, proc.returncode, proc.stderr or "")


def start(argv: list[str], **popen: Any) -> subprocess.Popen:
    """A long run (the recorder's and live view's FFmpegs), ended with its supervisor.
    A camera URL with credentials is opened through a relay that refuses redirects
    (crimebox/rtsp_guard.py); the relay ends with the process."""
    command = with_parent_death_signal(argv)
    relay = Relay.for_argv(command)
    try:
        proc = subprocess.Popen(relay.argv(command) if relay else command, **popen)
    except OSError as e:
        if relay:
            relay.close()
        raise cannot_run(argv[0], e) from None
    if relay:
        relay.serve(lambda: proc.poll() is None)
    return proc


def _run(argv: list[str], timeout_seconds: float, **run: Any) -> subprocess.CompletedProcess:
    command = with_parent_death_signal(argv)
    relay = Relay.for_argv(command)  # as in start(); closed when the run is over
    if relay:
        relay.serve(lambda: True)
        command = relay.argv(command)
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_seconds, **run)
    except subprocess.TimeoutExpired:
        raise FFmpegError(f"{Path(argv[0]).name} timed out after {timeout_seconds:g} s") from None
    except OSError as e:
        raise cannot_run(argv[0], e) from None
    finally:
        if relay:
            relay.close()
    if relay and isinstance(done.stderr, str):  # it names the listing it was given
        done.stderr = done.stderr.replace(str(relay.listing), relay.source)
    return done


def run_tool(argv: list[str], timeout_seconds: float) -> subprocess.CompletedProcess[str]:
    """Run ffprobe or FFmpeg to completion, text output. Every way it can fail to run is an
    FFmpegError: ToolMissing when it is not there, a timeout in one line; the caller reads
    the output, and the exit status with check_exit."""
    return _run(argv, timeout_seconds, text=True)


def run_bytes(argv: list[str], timeout_seconds: float, stdin: bytes | None = None) -> bytes:
    """Run argv to completion (`stdin` fed to it); its stdout, or FFmpegError when it did
    not exit 0 within the timeout."""
    proc = _run(argv, timeout_seconds, input=stdin)
    check_exit(argv, proc)
    return proc.stdout


@functools.cache  # once per process: manifests name it, the binary does not change under us
def version(timeout_seconds: float = 10) -> str:
    """FFmpeg's first version line (for manifests), or "unknown"."""
    try:
        out = run_tool([settings.FFMPEG, "-hide_banner", "-version"], timeout_seconds)
    except FFmpegError:
        return "unknown"
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def _read_ahead(fd: int, blocks: queue.Queue) -> None:
    """Move FFmpeg's output from the pipe into `blocks` (None at the end): FFmpeg keeps
    cutting while the caller hashes and writes, instead of waiting on a full pipe."""
    try:
        for block in iter(lambda: os.read(fd, 1 << 20), b""):
            blocks.put(block)
    except OSError:
        pass  # the pipe was closed: the caller stopped
    finally:
        blocks.put(None)


def stream_stdout(argv: list[str], sink: Callable[[bytes], object], timeout_seconds: float) -> None:
    """Run argv, passing its stdout to `sink` block by block; killed at the deadline."""
    try:
        proc = subprocess.Popen(
            with_parent_death_signal(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
    except OSError as e:
        raise cannot_run(argv[0], e) from None
    stdout, err_pipe = proc.stdout, proc.stderr
    assert stdout is not None and err_pipe is not None  # both PIPE
    with contextlib.suppress(OSError):  # Linux: a 1 MiB pipe, 16x fewer wake-ups
        fcntl.fcntl(stdout.fileno(), F_SETPIPE_SZ, 1 << 20)
    timer = threading.Timer(timeout_seconds, proc.kill)
    timer.start()
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(err_pipe.read()), daemon=True)
    drain.start()
    blocks: queue.Queue = queue.Queue(maxsize=32)  # at most ~32 MiB ahead of the sink
    reader = threading.Thread(target=_read_ahead, args=(stdout.fileno(), blocks))
    reader.start()
    try:
        for block in iter(blocks.get, None):
            sink(block)
    except BaseException:
        proc.kill()  # the sink failed (e.g. the disk is full): stop FFmpeg too
        while reader.is_alive():  # let the reader finish so it can close
            with contextlib.suppress(queue.Empty):
                blocks.get(timeout=0.1)
        raise
    finally:
        reader.join()
        stdout.close()
        proc.wait()
        timer.cancel()
        drain.join(5)
    stderr = (errors[0] if errors else b"").decode(errors="replace").strip()
    if proc.returncode != 0:
        if proc.returncode < 0 and not stderr:
            raise FFmpegError(f"FFmpeg took longer than {timeout_seconds:g} s and was stopped")
        said = exit_error(argv, proc.returncode, stderr)
        raise FFmpegError(f"FFmpeg could not cut the clip: {said}")
