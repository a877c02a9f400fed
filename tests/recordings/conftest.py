import socket
import subprocess
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest

SERVER = Path(__file__).resolve().parents[1] / "peers" / "rtsp_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RTSPServer:
    """Debian's GStreamer RTSP server serving synthetic H.264, as a real camera."""

    def __init__(
        self,
        user="",
        password="",
        size="320x240",
        fps=25,
        bitrate=500,
        sub_size="",
        sub_bitrate=400,
        max_sessions=0,
        gop=0,
    ):
        self.port = free_port()
        self.args = [
            "/usr/bin/python3",
            str(SERVER),
            "--port",
            str(self.port),
            "--path",
            "/cam",
            "--size",
            size,
            "--fps",
            str(fps),
            "--gop",
            str(gop or fps),  # frames between keyframes: 1 s unless told
            "--bitrate",
            str(bitrate),
        ]
        if user:
            self.args += ["--user", user, "--password", password]
        if sub_size:  # a camera's substream, same frame rate and keyframe interval
            self.args += ["--sub-path", "/sub", "--sub-size", sub_size]
            self.args += ["--sub-bitrate", str(sub_bitrate)]
        if max_sessions:
            self.args += ["--max-sessions", str(max_sessions)]
        self.proc = None
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.sub_url = f"rtsp://127.0.0.1:{self.port}/sub"

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("READY"), f"RTSP server did not start: {line!r}"
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def rtsp_server():
    if not Path("/usr/bin/python3").exists():
        pytest.skip("Debian's python3 with GStreamer is needed (deploy/bootstrap.sh test)")
    servers = []

    def make(**kw) -> RTSPServer:
        server = RTSPServer(**kw).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


class InlineExecutor(Executor):
    """Runs the recorder's jobs at once, for tests that call tick() and want rows now."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def shutdown(self, wait: bool = True, **kwargs: Any) -> None:
        pass
