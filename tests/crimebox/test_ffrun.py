"""crimebox/ffrun.py: a failed run is one error with credentials out, and every run ends
with the process that started it."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crimebox import ffprobe, ffrun

ROOT = Path(__file__).resolve().parents[2]
URL = "rtsp://admin:hunter2@cam.local/1"


def tool(folder: Path, body: str) -> str:
    script = folder / "tool"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def failing(tmp_path, settings):
    """An FFmpeg and ffprobe that say where they failed to connect, credentials and all."""
    settings.FFPROBE = settings.FFMPEG = tool(
        tmp_path, f'echo "{"x" * 400}" >&2; echo "{URL}: Connection refused" >&2; exit 1'
    )
    media = tmp_path / "a.mp4"
    media.write_bytes(b"\0" * 100)
    return media


def test_every_failed_run_is_one_error_without_the_password(failing, settings):
    calls = [
        lambda: ffprobe.probe(failing),
        lambda: ffprobe.keyframe_at_or_before(failing, 1.0),
        lambda: ffprobe.held_interval(failing),
        lambda: ffrun.run_bytes([settings.FFMPEG, "-i", URL], 5),
        lambda: ffrun.stream_stdout([settings.FFMPEG, "-i", URL], lambda block: None, 5),
    ]
    for call in calls:
        with pytest.raises(ffrun.FFmpegError) as raised:
            call()
        assert "hunter2" not in str(raised.value) and "admin" not in str(raised.value)
        assert "rtsp://cam.local/1: Connection refused" in str(raised.value)


def test_the_output_is_redacted_before_it_is_cut():
    """The last 300 characters could start inside a URL's user:password@, past its scheme."""
    said = f"rtsp://user:{'p' * 30}@cam/1 " + "e" * 290
    message = str(ffrun.exit_error(["ffmpeg"], 1, said))
    assert "p" * 5 not in message and message.endswith("e" * 290)
    assert str(ffrun.exit_error(["/usr/bin/ffmpeg"], 3, b"  ")) == "ffmpeg exited with 3"


RUNNERS = {
    "run_tool": "ffrun.run_tool([tool], 60)",
    "run_bytes": "ffrun.run_bytes([tool], 60)",
    "stream_stdout": "ffrun.stream_stdout([tool], lambda block: None, 60)",
}


@pytest.mark.skipif(not ffrun.shutil.which("setpriv"), reason="apt package util-linux")
@pytest.mark.parametrize("runner", RUNNERS)
def test_a_run_ends_when_the_process_that_started_it_is_killed(tmp_path, runner):
    """A web worker killed mid-export must not leave its FFmpeg running."""
    pid_file = tmp_path / "pid"
    script = tool(tmp_path, f"echo $$ > {pid_file}; exec sleep 60")
    code = f"from crimebox import ffrun\ntool = {script!r}\n{RUNNERS[runner]}\n"
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        deadline = time.monotonic() + 10
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, "the tool never started"
            time.sleep(0.02)
        pid = int(pid_file.read_text())
        assert alive(pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            pytest.fail("the tool outlived the process that started it")
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for whoever inherited it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
