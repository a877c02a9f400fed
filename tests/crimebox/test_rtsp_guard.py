"""A camera's RTSP server that redirects FFmpeg to another host (RTSP 302 with a Location)
gets no credentials sent there: the recorder's FFmpeg and the probe's ffprobe go through the
relay (crimebox/rtsp_guard.py), which refuses the redirect. Real FFmpeg and ffprobe; the
"camera" and the other host are small fake RTSP servers."""

import socket
import threading

import pytest

from audit.models import AuditEvent
from cameras.services import CameraError, probe_stream
from crimebox import rtsp_guard
from recordings.recorder import Supervisor
from tests.factories import make_camera
from tests.helpers import wait_for
from tests.recordings.conftest import InlineExecutor

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "S3cret-pw"


class FakeRTSP:
    """A listening RTSP server answering every request with `answer(cseq)`; keeps requests."""

    def __init__(self, host: str, answer) -> None:
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.requests: list[str] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.talk, args=(conn,), daemon=True).start()

    def talk(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while data := conn.recv(4096):
                buf += data
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    text = head.decode(errors="replace")
                    self.requests.append(text)
                    cseq = next(
                        (ln.split(":", 1)[1].strip() for ln in text.split("\r\n")
                         if ln.lower().startswith("cseq:")), "1")  # fmt: skip
                    conn.sendall(self.answer(cseq).encode())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def redirecting_camera():
    """The camera on 127.0.0.1 redirects to a server on 127.0.0.2 that asks for Basic auth."""
    other = FakeRTSP("127.0.0.2", lambda cseq: (
        f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n"
        'WWW-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\n\r\n'))  # fmt: skip
    camera = FakeRTSP("127.0.0.1", lambda cseq: (
        f"RTSP/1.0 302 Moved\r\nCSeq: {cseq}\r\n"
        f"Location: rtsp://127.0.0.2:{other.port}/evil\r\nContent-Length: 0\r\n\r\n"))  # fmt: skip
    yield camera, other
    camera.close()
    other.close()


def relay_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.endswith("(_run)"))


def test_the_probe_sends_no_credentials_to_where_the_camera_redirects(redirecting_camera):
    camera, other = redirecting_camera
    url = f"rtsp://127.0.0.1:{camera.port}/stream"
    with pytest.raises(CameraError) as refused:
        probe_stream(url, "admin", PASSWORD)
    assert camera.requests, "ffprobe asked the camera"
    assert not any("authorization" in r.lower() for r in other.requests)
    assert f"redirected its stream to rtsp://127.0.0.2:{other.port}" in str(refused.value)
    assert rtsp_guard.REFUSED in str(refused.value)
    assert PASSWORD not in str(refused.value)
    wait_for(lambda: relay_threads() == 0, timeout=5, what="the relay ended with ffprobe")


def test_the_recorder_sends_no_credentials_and_says_why(redirecting_camera, settings):
    camera_server, other = redirecting_camera
    camera = make_camera(
        main_stream_uri=f"rtsp://127.0.0.1:{camera_server.port}/stream",
        username="admin",
        password=PASSWORD,
    )
    supervisor = Supervisor(executor=InlineExecutor(), sync_interval=0.5)
    try:
        for _ in range(2):  # two runs: the refusal is audited once, not per restart
            wait_for(lambda: camera.pk in supervisor.runs, tick=supervisor.tick, what="a run")
            wait_for(lambda: camera.pk not in supervisor.runs, tick=supervisor.tick, what="its end")
            supervisor.retry_at[camera.pk] = 0
        camera.refresh_from_db()
    finally:
        supervisor.shutdown(grace=5)
    why = f"redirected its stream to rtsp://127.0.0.2:{other.port}: {rtsp_guard.REFUSED}"
    assert why in camera.last_error  # the recorder's failure, retried as any camera's
    assert len(camera_server.requests) >= 2
    assert not any("authorization" in r.lower() for r in other.requests)
    camera.refresh_from_db()
    assert why in camera.refusal
    entries = AuditEvent.objects.filter(camera=camera, action=AuditEvent.Action.CAMERA_CHANGE)
    assert [e.detail["change"] for e in entries] == ["refused"]
    assert why in entries[0].detail["refused"]
    assert camera.gaps.get().detail.startswith(why)
    wait_for(lambda: relay_threads() == 0, timeout=5, what="the relays ended with FFmpeg")
