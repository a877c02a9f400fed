"""A real ONVIF camera (ipycam) in a private network namespace, and local misbehaving servers.

ipycam binds every interface and multicasts a WS-Discovery Hello at start, so it runs under
`unshare -n` (tests/peers/netns.sh: loopback + a veth "camera LAN", nothing outside). The code
under test reaches it by moving the calling thread into that namespace (setns(2) is
per-thread): the probe, the admin view and discovery then run in-process, unmodified.
"""

import ctypes
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.recordings.conftest import rtsp_server  # noqa: F401  (the RTSP camera fixture)

ROOT = Path(__file__).resolve().parents[2]
IPYCAM_PYTHON = Path(os.environ.get("CRIMEBOX_IPYCAM_VENV", ROOT / ".venv-ipycam")) / "bin/python"
CAMERA_IP = "10.203.0.2"  # the camera's end of the namespace's veth pair (tests/peers/netns.sh)
PASSWORD = "Pole7-s3cret!pw"  # distinctive, so a leak is easy to search for
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@dataclass
class OnvifPeer:
    pid: int
    host: str
    port: int
    username: str
    password: str
    name: str
    serial: str

    @contextmanager
    def netns(self) -> Iterator[None]:
        """Run the block (this thread and threads it starts) inside the camera's namespace."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/proc/{self.pid}/ns/net", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)
            os.close(target)

    def nsenter(self) -> list[str]:
        """argv prefix running a subprocess inside the camera's namespace."""
        return ["nsenter", f"--net=/proc/{self.pid}/ns/net", "--"]


def _unavailable(reason: str) -> None:
    # CI installs the peer (tests/peers/install.sh): there a missing peer is a failure.
    if os.environ.get("CI"):
        pytest.fail(f"ONVIF test camera unavailable: {reason}")
    pytest.skip(f"ONVIF test camera unavailable: {reason} (run tests/peers/install.sh as root)")


@pytest.fixture(scope="session")
def onvif_camera(tmp_path_factory) -> Iterator[OnvifPeer]:
    with run_ipycam(tmp_path_factory.mktemp("ipycam")) as peer:
        yield peer


@contextmanager
def run_ipycam(work: Path, env: dict[str, str] | None = None) -> Iterator[OnvifPeer]:
    """ipycam in its own network namespace (each run has its own, so two can run at once);
    `env` is added to its environment (libfaketime's, for a drifted clock)."""
    if not IPYCAM_PYTHON.exists():
        _unavailable(f"{IPYCAM_PYTHON} missing")
    if os.geteuid() != 0 or not shutil.which("unshare"):
        _unavailable("needs root and unshare for a private network namespace")
    peer = OnvifPeer(
        pid=0,
        host=CAMERA_IP,
        port=8080,
        username="admin",
        password=PASSWORD,
        name="Pole 7 test cam",
        serial="SN-TEST-42",
    )
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=10:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(work / "clip.mp4"),
        ],
        check=True,
    )
    # Small and slow on purpose: other suites share this 2-core machine.
    (work / "config.json").write_text(
        json.dumps(
            {
                "name": peer.name,
                "manufacturer": "IPyCam",
                "model": "VirtualCam-1",
                "serial_number": peer.serial,
                "username": peer.username,
                "password": peer.password,
                "local_ip": CAMERA_IP,
                "onvif_port": peer.port,
                "rtsp_port": 8554,
                "main_width": 640,
                "main_height": 360,
                "main_fps": 10,
                "main_bitrate": "1M",
                "sub_width": 320,
                "sub_height": 180,
                "sub_fps": 5,
                "sub_bitrate": "256K",
                "hw_accel": "cpu",
                "show_timestamp": False,
            }
        )
    )
    _patched_ipycam(work)
    log = (work / "ipycam.log").open("w")
    proc = subprocess.Popen(
        [
            "unshare",
            "-n",
            str(ROOT / "tests/peers/netns.sh"),
            str(IPYCAM_PYTHON),
            "-m",
            "ipycam",
            "--config",
            "config.json",
            "--source",
            "clip.mp4",
            "--log-level",
            "WARNING",
        ],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    peer.pid = proc.pid
    try:
        _wait_listening(peer, proc, work / "ipycam.log")
        yield peer
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _patched_ipycam(work: Path) -> None:
    """A copy of ipycam in its working folder (`-m ipycam` imports it from there) whose SOAP
    envelope declares the PTZ prefixes its PTZ answers use (ipycam's own leaves `ptz:` and
    `tptz:` undeclared, which no XML parser accepts)."""
    source = Path(
        subprocess.run(
            [str(IPYCAM_PYTHON), "-c", "import ipycam, os; print(os.path.dirname(ipycam.__file__))"],  # noqa: E501
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    copy = work / "ipycam"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    envelope = copy / "static/soap/envelope.xml"
    ptz = "http://www.onvif.org/ver20/ptz/wsdl"
    envelope.write_text(
        envelope.read_text().replace(
            'xmlns:tt="http://www.onvif.org/ver10/schema"',
            f'xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:ptz="{ptz}" xmlns:tptz="{ptz}"',
        )
    )


def _wait_listening(peer: OnvifPeer, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _unavailable(f"ipycam exited with {proc.returncode}: {log.read_text()[-500:]}")
        if "IP Camera is running" in log.read_text():
            with peer.netns(), socket.create_connection((peer.host, peer.port), timeout=2):
                return
        time.sleep(0.05)
    pytest.fail(f"ipycam did not start within 30 s: {log.read_text()[-500:]}")


class _NotOnvif(http.server.BaseHTTPRequestHandler):
    """A plain web server: every request gets an HTML 404 page."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def do_GET(self) -> None:
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[int]:
    """Port of a local HTTP server that is not an ONVIF device."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotOnvif)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Port of a socket that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
