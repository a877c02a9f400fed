"""The real web server (gunicorn with crimebox/gunicorn_conf.py) on loopback, with throttled
clients reading downloads: /health and the admin keep answering within a second, the cap gives
a 503, a download outlasting gunicorn's worker timeout completes, and the audit trail says what
each client actually got."""

import http.client
import os
import socket
import struct
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit.models import AuditEvent
from tests.factories import make_camera, make_segments
from tests.helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SIZE = 16 * 1024 * 1024  # well beyond what loopback socket buffers hold (4 MiB each way)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlowClient(threading.Thread):
    """Reads one response through a small receive buffer, `block` bytes every 50 ms."""

    def __init__(self, port, path, cookie, block, stop_after=None):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, max(16 * 1024, block))
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid={cookie}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        self.block, self.stop_after, self.done = block, stop_after, False
        self.data = bytearray()  # appending to bytes would copy it all on every block

    @property
    def body(self) -> bytes:
        return bytes(self.data.partition(b"\r\n\r\n")[2])

    def run(self):
        while True:
            block = self.sock.recv(self.block)
            if not block:
                break
            self.data += block
            if self.stop_after and len(self.data) >= self.stop_after:
                break
            time.sleep(0.05)
        self.sock.close()
        self.done = True


def get(port, path, cookie="", timeout=1.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"} if cookie else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.fixture
def gunicorn(box_env, settings):
    """(port, the gunicorn master process)."""
    port = free_port()
    log = settings.DATA_DIR / "gunicorn.log"
    env = {
        **box_env,
        "CRIMEBOX_BIND": f"127.0.0.1:{port}",
        "CRIMEBOX_MAX_DOWNLOADS": "2",
        "CRIMEBOX_MAX_DOWNLOADS_PER_USER": "2",  # one user holds both here
        "CRIMEBOX_WEB_WORKERS": "1",  # the harshest case: one process serves everything
        "GUNICORN_CMD_ARGS": "--timeout 2",  # a download must outlast the worker timeout
        "CRIMEBOX_ALLOWED_HOSTS": "127.0.0.1",
        "HOME": str(settings.DATA_DIR),  # where gunicorn would put a shared control socket
    }
    env.pop("XDG_RUNTIME_DIR", None)
    gunicorn = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "gunicorn"
    if not gunicorn.exists():
        gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "python:crimebox.gunicorn_conf", "crimebox.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )

    def up():
        try:
            return get(port, "/health")[0] in (200, 503)
        except OSError:
            if proc.poll() is not None:
                pytest.fail(log.read_text())
            return False

    wait_for(up, what="gunicorn to answer")
    yield port, proc
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=30)
    assert not (settings.DATA_DIR / ".gunicorn").exists()  # no control socket in $HOME


@pytest.fixture
def server(gunicorn):
    return gunicorn[0]


def test_slow_downloads_never_block_health_or_the_admin(server, settings):
    port = server
    [segment] = make_segments(make_camera("North"), datetime(2026, 11, 23, 14, tzinfo=UTC), 1)
    segment.abs_path.write_bytes(os.urandom(SIZE))
    user = User.objects.create_superuser("chief", password="a-long-pass-phrase")
    browser = Client()
    browser.force_login(user)
    cookie = browser.cookies["sessionid"].value
    url = f"/footage/segment/{segment.pk}/download"

    # ~160 KB/s (ZeroTier over LTE), cut off after 1 MiB; and ~5 MB/s to the end (a few
    # seconds, past the 2 s worker timeout).
    cut = SlowClient(port, url, cookie, block=8 * 1024, stop_after=1024 * 1024)
    whole = SlowClient(port, url, cookie, block=256 * 1024)
    cut.start(), whole.start()
    wait_for(lambda: b"\r\n\r\n" in cut.data and b"\r\n\r\n" in whole.data, what="both to start")

    status, headers, body = get(port, url, cookie, timeout=5)
    assert status == 503 and int(headers["Retry-After"]) > 0, body
    assert b"2 files at once" in body

    # While both streams hold their threads: /health and an admin page, each within a second.
    while not whole.done:  # a few seconds
        status, _, body = get(port, "/health", timeout=1.0)
        assert status in (200, 503) and b'"status"' in body
        status, _, body = get(port, "/", cookie, timeout=1.0)
        assert status == 200 and b"crimebox</title>" in body
        time.sleep(0.2)

    assert whole.body == segment.abs_path.read_bytes()  # took longer than the worker timeout
    cut.join(timeout=10)

    def entries():
        rows = AuditEvent.objects.filter(action="download").order_by("sequence")
        return list(rows) if rows.count() == 2 else None

    events = {e.detail["result"]: e for e in wait_for(entries, what="two download entries")}
    assert events["sent"].detail["bytes_sent"] == SIZE
    sent = events["interrupted"].detail["bytes_sent"]
    # What the server handed to the kernel: at least what the client read, less one block, at
    # most that plus the socket buffers.
    assert len(cut.body) - 64 * 1024 <= sent <= len(cut.body) + 4 * 1024 * 1024
    assert sent < SIZE


def test_a_client_that_read_nothing_is_not_said_to_have_received_the_file(server, settings):
    """A client that read nothing and reset is never audited as having the whole file
    ("complete, 503,252 bytes"). The server knows what its socket accepted, and says the
    client got at most that."""
    port = server
    [segment] = make_segments(make_camera("North"), datetime(2026, 11, 23, 14, tzinfo=UTC), 1)
    segment.abs_path.write_bytes(os.urandom(100_000))  # fits in the loopback buffers
    browser = Client()
    browser.force_login(User.objects.create_superuser("chief", password="a-long-pass-phrase"))
    cookie = browser.cookies["sessionid"].value
    sock = socket.socket()
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET /footage/segment/{segment.pk}/download HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: sessionid={cookie}\r\nConnection: close\r\n\r\n".encode()
    )
    event = wait_for(
        lambda: AuditEvent.objects.filter(action="download").first(), what="the download's entry"
    )
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, having read nothing
    assert event.detail["result"] == "sent" and event.detail["bytes_sent"] == 100_000
    assert event.detail["received"] == "at most 100000 bytes"
    page = browser.get("/audit/auditevent/").content.decode()
    assert "all 100,000 bytes sent: the client received at most that" in page
    assert "complete" not in page


def test_a_viewing_cut_by_kill_9_of_the_web_server_is_still_audited(gunicorn, settings):
    """audit/viewings.py: the viewing is committed before the file's first byte leaves, so
    when the web server is killed mid-stream (nothing closes the response) the every-minute
    task still writes its one entry. Before, the entry was written at close: never, here."""
    from audit import viewings
    from audit.models import Viewing

    port, master = gunicorn
    [segment] = make_segments(make_camera("North"), datetime(2026, 11, 23, 14, tzinfo=UTC), 1)
    segment.abs_path.write_bytes(os.urandom(SIZE))
    browser = Client()
    browser.force_login(User.objects.create_superuser("chief", password="a-long-pass-phrase"))
    cookie = browser.cookies["sessionid"].value
    reader = SlowClient(port, f"/footage/segment/{segment.pk}/media.mp4", cookie, block=8 * 1024)
    reader.start()
    wait_for(lambda: len(reader.body) > 256 * 1024, what="the player to be reading")
    workers = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    for pid in [*map(int, workers), master.pid]:  # the processes this test started
        os.kill(pid, 9)
    master.wait(timeout=10)
    reader.join(timeout=10)
    assert not reader.body.endswith(segment.abs_path.read_bytes()[-1024:])  # cut short
    assert not AuditEvent.objects.filter(action="play").exists()
    assert Viewing.objects.get().target == f"segment {segment.pk}"
    later = datetime.now(UTC) + viewings.IDLE + timedelta(seconds=1)
    assert viewings.close_idle(now=later) == 1
    [event] = AuditEvent.objects.filter(action="play")
    assert event.username == "chief" and event.detail["requests"] == 1
