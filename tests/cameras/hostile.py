"""Scripted peers for attacks by a hostile device: a quirky ONVIF device whose answers a test
rewrites between probes, a listener on "another host" that keeps every byte it is sent, and a
snapshot server that misbehaves on request. Fakes on purpose: a real camera is not hostile.

Loopback has every 127.x address: the camera is 127.0.0.1, "another host" is 127.0.0.2.
"""

import http.server
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

CAMERA_HOST = "127.0.0.1"
OTHER_HOST = "127.0.0.2"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + b"\x00" * 200 + b"\xff\xd9"

ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"
 xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><s:Body>{}</s:Body></s:Envelope>"""
PROFILE = """<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name>
<tt:VideoEncoderConfiguration token="VEC_{token}"><tt:Name>H264</tt:Name>
<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{width}</tt:Width>
<tt:Height>{height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>
<tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit><tt:EncodingInterval>1
</tt:EncodingInterval><tt:BitrateLimit>2000</tt:BitrateLimit></tt:RateControl>
</tt:VideoEncoderConfiguration></trt:Profiles>"""
MEDIA_URI = """<trt:{op}Response><trt:MediaUri><tt:Uri>{uri}</tt:Uri>
<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false
</tt:InvalidAfterReboot><tt:Timeout>PT30S</tt:Timeout></trt:MediaUri></trt:{op}Response>"""
OPERATION = re.compile(
    rb"<(?:\w+:)?(GetSystemDateAndTime|GetServices|GetCapabilities|GetDeviceInformation|"
    rb"GetProfiles|GetStreamUri|GetSnapshotUri)\b"
)
TOKEN = re.compile(rb"<(?:\w+:)?ProfileToken>([^<]*)<")


@dataclass
class QuirkyCamera:
    """An ONVIF device on 127.0.0.1; change its fields and the next probe sees them."""

    port: int = 0
    serial: str = "SN-QUIRK-1"
    # {token: (stream_uri, snapshot_uri)}; "{host}" and "{port}" are filled in when answered.
    uris: dict[str, tuple[str, str]] = field(default_factory=dict)
    media_xaddr: str = "http://{host}:{port}/onvif/media_service"
    requests: list[bytes] = field(default_factory=list)

    def answer(self, body: bytes) -> str:
        self.requests.append(body)
        m = OPERATION.search(body)
        op = m[1].decode() if m else ""
        fill = {"host": CAMERA_HOST, "port": self.port}
        if op == "GetSystemDateAndTime":
            now = time.gmtime()
            return (
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP"
                "</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime>"
                f"<tt:Time><tt:Hour>{now.tm_hour}</tt:Hour><tt:Minute>{now.tm_min}</tt:Minute>"
                f"<tt:Second>{now.tm_sec}</tt:Second></tt:Time><tt:Date><tt:Year>{now.tm_year}"
                f"</tt:Year><tt:Month>{now.tm_mon}</tt:Month><tt:Day>{now.tm_mday}</tt:Day>"
                "</tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
                "</tds:GetSystemDateAndTimeResponse>"
            )
        if op == "GetServices":
            services = [
                ("http://www.onvif.org/ver10/device/wsdl", "http://{host}:{port}/onvif/device"),
                ("http://www.onvif.org/ver10/media/wsdl", self.media_xaddr),
            ]
            return "<tds:GetServicesResponse>{}</tds:GetServicesResponse>".format(
                "".join(
                    f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>"
                    f"{xaddr.format(**fill)}</tds:XAddr><tds:Version><tt:Major>2</tt:Major>"
                    "<tt:Minor>5</tt:Minor></tds:Version></tds:Service>"
                    for ns, xaddr in services
                )
            )
        if op == "GetDeviceInformation":
            return (
                "<tds:GetDeviceInformationResponse><tds:Manufacturer>Quirk</tds:Manufacturer>"
                "<tds:Model>Q-1</tds:Model><tds:FirmwareVersion>1.0</tds:FirmwareVersion>"
                f"<tds:SerialNumber>{self.serial}</tds:SerialNumber><tds:HardwareId>Q"
                "</tds:HardwareId></tds:GetDeviceInformationResponse>"
            )
        if op == "GetProfiles":
            sizes = [(1920, 1080), (640, 360), (320, 180)]
            return "<trt:GetProfilesResponse>{}</trt:GetProfilesResponse>".format(
                "".join(
                    PROFILE.format(token=t, width=w, height=h)
                    for t, (w, h) in zip(self.uris, sizes, strict=False)
                )
            )
        token = (TOKEN.search(body) or [b"", b""])[1].decode()
        stream, snapshot = self.uris.get(token, ("", ""))
        if op in ("GetStreamUri", "GetSnapshotUri"):
            uri = (stream if op == "GetStreamUri" else snapshot).format(**fill)
            return MEDIA_URI.format(op=op, uri=uri.replace("&", "&amp;"))
        return ""


def _handler(device: QuirkyCamera) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = device.answer(self.headers.get("Authorization", "").encode() + body)
            data = ENVELOPE.format(answer).encode()
            self.send_response(200 if answer else 400)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serving(server: http.server.ThreadingHTTPServer) -> Iterator[int]:
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def quirky_camera() -> Iterator[QuirkyCamera]:
    device = QuirkyCamera()
    with serving(http.server.ThreadingHTTPServer((CAMERA_HOST, 0), _handler(device))) as port:
        device.port = port
        yield device


@dataclass
class Listener:
    """A TCP server on another host that keeps every byte anyone sends it."""

    port: int
    received: list[bytes]
    connections: list[str]

    def everything(self) -> bytes:
        return b"".join(self.received)


@contextmanager
def listener(host: str = OTHER_HOST) -> Iterator[Listener]:
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen(16)
    sock.settimeout(0.2)
    caught = Listener(sock.getsockname()[1], [], [])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = sock.accept()
            except OSError:
                continue
            caught.connections.append(f"{addr[0]}:{addr[1]}")
            threading.Thread(target=_drain, args=(conn, caught.received), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield caught
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def _drain(conn: socket.socket, into: list[bytes]) -> None:
    """Keep what the client says; answer an HTTP or RTSP request with a 401 asking for Basic
    (what a credential harvester does), so a client that would send a password does."""
    conn.settimeout(2)
    with conn:
        for _ in range(4):
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            into.append(data)
            proto = b"RTSP/1.0" if data.startswith((b"OPTIONS", b"DESCRIBE")) else b"HTTP/1.1"
            cseq = re.search(rb"CSeq: *(\d+)", data)
            conn.sendall(
                proto
                + b' 401 Unauthorized\r\nWWW-Authenticate: Basic realm="cam"\r\n'
                + (b"CSeq: " + cseq[1] + b"\r\n" if cseq else b"")
                + b"Content-Length: 0\r\n\r\n"
            )


@dataclass
class SnapshotServer:
    """A camera's HTTP snapshot endpoint on 127.0.0.1; `mode` says how it misbehaves:
    "image" a JPEG; "page" an internal HTML page labelled image/jpeg; "huge" a 6 MB "JPEG";
    "drip" a JPEG one byte every half second for `drip_seconds`; "drip-headers" its response
    headers so, a byte at a time; "redirect" a 302 to `location` ("/image" stays on the
    camera)."""

    mode: str = "image"
    location: str = ""
    drip_seconds: float = 20.0
    port: int = 0
    paths: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{CAMERA_HOST}:{self.port}/snap.jpg"


def _snapshot_handler(server: SnapshotServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.paths.append(self.path)
            mode = "image" if self.path == "/image" else server.mode
            if mode == "drip-headers":
                try:
                    self.drip_headers()
                except OSError:
                    return
                server.finished.append(mode)
                return
            if mode == "redirect":
                self.send_response(302)
                self.send_header("Location", server.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = {
                "image": JPEG,
                "page": b"<html><body>router admin: wifi password hunter2</body></html>",
                "huge": JPEG[:4] + b"\0" * 6_000_000,
            }.get(mode, JPEG)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body) + (10_000 if mode == "drip" else 0)))
            self.end_headers()
            try:
                if mode == "drip":
                    self.drip()
                else:
                    self.wfile.write(body)
            except OSError:
                return
            server.finished.append(mode)

        def drip_headers(self) -> None:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n" + b"X-Pad: a\r\n" * 400
            deadline = time.monotonic() + server.drip_seconds
            for byte in head:
                if time.monotonic() > deadline:
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.3)

        def drip(self) -> None:
            self.wfile.write(JPEG[:4])
            self.wfile.flush()
            deadline = time.monotonic() + server.drip_seconds
            while time.monotonic() < deadline:
                time.sleep(0.5)
                self.wfile.write(b"\0")
                self.wfile.flush()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def snapshot_server(mode: str = "image") -> Iterator[SnapshotServer]:
    snap = SnapshotServer(mode=mode)
    handler = _snapshot_handler(snap)
    with serving(http.server.ThreadingHTTPServer((CAMERA_HOST, 0), handler)) as port:
        snap.port = port
        yield snap
