"""The loopback relay that keeps a camera's credentials on the camera's own host over RTSP.

FFmpeg follows an RTSP 3xx answer while it connects (OPTIONS, DESCRIBE, SETUP, PLAY) to its
Location, and sends the camera's credentials there too; it has no option to refuse. So an
FFmpeg or ffprobe opening a camera URL with credentials (always through a private ffconcat
listing, see crimebox/ffprobe.py) opens it through this relay instead: the listing's URL gets
host:port 127.0.0.1:<relay port>, path and credentials unchanged. The relay accepts that one
connection, connects to the host:port the camera was configured with, and reads the camera's
answers until its 2xx answer to PLAY. A 3xx answer before that is never forwarded: FFmpeg gets
a 502 whose reason says where the camera pointed (FFmpeg prints it: "method DESCRIBE failed:
502 redirected its stream to rtsp://…: refused, credentials not sent"), then both sides close.
After PLAY the relay only copies bytes (64 KiB blocking reads, no per-byte work).

The relay ends with the FFmpeg process: its connection closes when FFmpeg exits, and a relay
still waiting for FFmpeg to connect stops when the process is gone or the owner closes it.
"""

import contextlib
import re
import shlex
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from crimebox.atomic import write_atomic

REFUSED = "refused, credentials not sent"
CHUNK = 1 << 16
ACCEPT_POLL = 0.2  # seconds between looks at whether FFmpeg is still there
DEFAULT_TIMEOUT = 10.0
MAX_HEADER = 64 * 1024  # an RTSP answer's head larger than this is not a camera's
MAX_BODY = 1 << 20  # an SDP larger than this neither
_STATUS = re.compile(rb"RTSP/\d\.\d (\d{3})")
UNREACHABLE = "cannot reach the camera at"
_SAID = re.compile(rf" 502 ((?:{UNREACHABLE} |redirected its stream to \S+: {REFUSED}).*)$")


def shown_target(location: str) -> str:
    """rtsp://host:port of where the camera pointed, printable ASCII only: its text, not ours."""
    try:
        parts = urlsplit(location)
        where = f"{parts.scheme}://{parts.hostname}:{parts.port or 554}"
    except ValueError:
        where = location
    if not location:
        return "somewhere it did not say"
    return re.sub(r"[^!-~]", "?", where)[:100]


def said(lines: list[str]) -> str:
    """What the relay told FFmpeg (a refused redirect, a camera it could not reach) as FFmpeg
    printed it ("method OPTIONS failed: 502 <reason>"), or "". FFmpeg's own last line is then
    only "Server returned 5XX Server Error reply"."""
    for line in reversed(lines):
        found = _SAID.search(line)
        if found:
            return found.group(1)
    return ""


def refusal(lines: list[str]) -> str:
    """The relay's refused redirect ("redirected its stream to …: refused, …"), or ""."""
    text = said(lines)
    return text if text.endswith(REFUSED) else ""


class Relay:
    """One FFmpeg connection to one camera. `listing` is the relayed ffconcat listing."""

    def __init__(self, url: str, lines: list[str], listing: Path, timeout: float) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or "", parts.port or 554)
        self.timeout = timeout
        self.listener = socket.create_server(("127.0.0.1", 0))
        port = self.listener.getsockname()[1]
        user = parts.netloc.rpartition("@")[0]
        relayed = urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}"))
        # The camera's listing with the relay's URL, for this run only (removed at the end).
        self.source = str(listing)
        self.listing = listing.with_name(f"{listing.stem}-relay{port}.ffconcat")
        quoted = "'" + relayed.replace("'", "'\\''") + "'"
        text = [f"file {quoted}" if ln.startswith("file ") else ln for ln in lines]
        write_atomic(self.listing, "\n".join(text) + "\n", 0o600)
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = [self.listener]
        self.thread: threading.Thread | None = None

    @classmethod
    def for_argv(cls, argv: list[str]) -> "Relay | None":
        """A relay when argv opens a camera's RTSP URL from a private listing, else None."""
        from crimebox.ffprobe import LISTINGS_DIR  # ffprobe builds the listings it runs

        path = next((Path(a) for a in argv if Path(a).parent.name == LISTINGS_DIR), None)
        if path is None or not path.name.endswith(".ffconcat"):
            return None
        lines = path.read_text().splitlines()
        url = next((shlex.split(ln[5:])[0] for ln in lines if ln.startswith("file ")), "")
        if not url.lower().startswith("rtsp://"):
            return None  # rtsps: TLS end to end, the relay could not read the answers
        timeout = next(
            (int(ln.split()[-1]) / 1e6 for ln in lines if ln.startswith("option timeout ")),
            DEFAULT_TIMEOUT,
        )
        return cls(url, lines, path, timeout)

    def argv(self, argv: list[str]) -> list[str]:
        """`argv` opening the relay's listing instead of the camera's."""
        return [str(self.listing) if a == self.source else a for a in argv]

    def serve(self, alive: Callable[[], bool]) -> None:
        """Relay one connection in the background while `alive()` (FFmpeg runs)."""
        self.thread = threading.Thread(target=self._run, args=(alive,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop the relay and wait for its threads (FFmpeg has ended)."""
        self.closed.set()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self.thread is not None:
            self.thread.join(5)
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.listing.unlink(missing_ok=True)

    def _run(self, alive: Callable[[], bool]) -> None:
        try:
            client = self._accept(alive)
            if client is not None:
                self._relay(client)
        finally:
            self._close_sockets()

    def _accept(self, alive: Callable[[], bool]) -> socket.socket | None:
        self.listener.settimeout(ACCEPT_POLL)
        while not self.closed.is_set() and alive():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return None
            client.settimeout(None)
            self.sockets.append(client)
            self.listener.close()
            return client
        return None

    def _relay(self, client: socket.socket) -> None:
        try:
            camera = socket.create_connection(self.target, timeout=self.timeout * 0.8)
        except OSError as e:  # FFmpeg says it as it says a camera it cannot reach
            host, port = self.target
            self._answer(client, f"{UNREACHABLE} {host}:{port}: {e.strerror or e}")
            return
        camera.settimeout(None)
        self.sockets.append(camera)
        play = _PlayWatch()
        upstream = threading.Thread(target=_requests, args=(client, camera, play), daemon=True)
        upstream.start()
        try:
            rest = self._answers(camera, client, play)
            if rest is not None:
                client.sendall(rest)
                _copy(camera, client)
        except OSError:
            pass
        finally:
            for sock in (client, camera):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            upstream.join(5)

    def _answers(
        self, camera: socket.socket, client: socket.socket, play: "_PlayWatch"
    ) -> bytes | None:
        """Forward the camera's answers until its 2xx to PLAY: what is left after it, or
        None when the relay refused (a redirect) or either side closed."""
        buf = b""
        while True:
            message, buf = _message(buf)
            if message is None:
                data = camera.recv(CHUNK)
                if not data or len(buf) > MAX_HEADER + MAX_BODY:
                    return None
                buf += data
                continue
            status = _STATUS.match(message)
            code = int(status.group(1)) if status else 0
            if 300 <= code < 400:
                where = shown_target(_header(message, b"location"))
                self._answer(client, f"redirected its stream to {where}: {REFUSED}", message)
                return None
            client.sendall(message)
            if 200 <= code < 300 and play.is_play(_header(message, b"cseq")):
                return buf

    @staticmethod
    def _answer(client: socket.socket, reason: str, reply: bytes = b"") -> None:
        """Answer FFmpeg's request (the camera's `reply` to it, if any) with a 502 saying why."""
        cseq = _header(reply, b"cseq")
        if not reply:  # the camera never answered: echo FFmpeg's own CSeq
            with contextlib.suppress(OSError):
                client.settimeout(5)
                head = client.recv(CHUNK)
                cseq = _header(head, b"cseq")
        text = f"RTSP/1.0 502 {reason}\r\nCSeq: {cseq or '1'}\r\nContent-Length: 0\r\n\r\n"
        with contextlib.suppress(OSError):
            client.sendall(text.encode())


class _PlayWatch:
    """The CSeq of FFmpeg's PLAY request, once sent (set before it leaves the relay)."""

    def __init__(self) -> None:
        self.cseq: str | None = None

    def is_play(self, cseq: str) -> bool:
        return self.cseq is not None and cseq == self.cseq


def _requests(client: socket.socket, camera: socket.socket, play: _PlayWatch) -> None:
    """FFmpeg's side: note its PLAY request's CSeq, then copy everything to the camera."""
    buf = b""
    try:
        while play.cseq is None:
            message, buf = _message(buf)
            if message is None:
                data = client.recv(CHUNK)
                if not data or len(buf) > MAX_HEADER + MAX_BODY:
                    return
                buf += data
                continue
            if message.startswith(b"PLAY "):
                play.cseq = _header(message, b"cseq")
            camera.sendall(message)
        camera.sendall(buf)
        _copy(client, camera)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            camera.shutdown(socket.SHUT_RDWR)


def _copy(source: socket.socket, sink: socket.socket) -> None:
    while data := source.recv(CHUNK):
        sink.sendall(data)


def _message(buf: bytes) -> tuple[bytes | None, bytes]:
    """(one whole RTSP message or interleaved frame, the rest), or (None, buf) if incomplete."""
    if buf[:1] == b"$":  # interleaved: $, channel, 2-byte length, data
        if len(buf) < 4:
            return None, buf
        end = 4 + int.from_bytes(buf[2:4], "big")
        return (buf[:end], buf[end:]) if len(buf) >= end else (None, buf)
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None, buf
    length = _header(buf[:head_end], b"content-length")
    end = head_end + 4 + (int(length) if length.isdigit() else 0)
    return (buf[:end], buf[end:]) if len(buf) >= end else (None, buf)


def _header(message: bytes, name: bytes) -> str:
    head = message.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return ""
