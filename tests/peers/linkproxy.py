"""A loopback TCP proxy standing in for a box's cellular link: a rate limit and a cut.

`LinkProxy(target_port, kbps).start()` listens on a free port and forwards to 127.0.0.1:target,
at most `kbps` kbit/s in each direction (0: no limit). `cut(seconds)` drops the link: every
open connection is reset and new ones are refused until it comes back, as when a modem loses
its carrier. `up_bytes` counts what the box sent through it (for "bytes re-sent after a cut").
Used by the retrieval tests and bench/retrieval.py.
"""

import socket
import struct
import threading
import time


class _Bucket:
    """Paces one direction: each block waits for its turn at the link's rate."""

    def __init__(self, kbps: int):
        self.rate = kbps * 1000 / 8
        self.lock = threading.Lock()
        self.next_free = time.monotonic()

    def take(self, size: int) -> None:
        if self.rate <= 0:
            return
        with self.lock:
            start = max(time.monotonic(), self.next_free)
            self.next_free = start + size / self.rate
            done = self.next_free
        time.sleep(max(0.0, done - time.monotonic()))


class LinkProxy:
    def __init__(self, target_port: int, kbps: int = 0):
        self.target = ("127.0.0.1", target_port)
        self.up, self.down = _Bucket(kbps), _Bucket(kbps)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down_until = 0.0
        self.up_bytes = 0
        self.cuts = 0
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.stopped = False

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def is_down(self) -> bool:
        return time.monotonic() < self.down_until

    def start(self) -> "LinkProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopped = True
        self.listener.close()
        self._drop_all()

    def cut(self, seconds: float) -> None:
        self.down_until = time.monotonic() + seconds
        self.cuts += 1
        self._drop_all()

    def _drop_all(self) -> None:
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()  # linger 0: a reset, as a lost carrier looks to TCP at the far end
            except OSError:
                pass

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.is_down:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        bucket = self.up if upstream else self.down
        try:
            while True:
                data = src.recv(16384)
                if not data:
                    break
                bucket.take(len(data))
                if self.is_down:
                    break
                dst.sendall(data)
                if upstream:
                    self.up_bytes += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
