#!/usr/bin/env python
"""Web benchmark: /health and an admin page while K throttled clients download, against none.

    .venv/bin/python bench/web.py [--downloads 2] [--rate-kb 150] [--requests 60] [--sync-workers]

Starts the real web server (gunicorn with crimebox/gunicorn_conf.py, the box's defaults) on a
throw-away data directory on loopback, then measures the latency of `/health` and of the logged-in
front page, in rounds alternating no download and K clients each pulling a 64 MiB segment at
--rate-kb KB/s (ZeroTier over LTE). Prints the medians and 95th percentiles, their ratios (with /
without), how many requests failed or took over a second, and the memory of the web processes
(RSS and PSS, shared pages counted once).
"""

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = 64 * 1024 * 1024
# The web unit as it first shipped: two sync workers, killed after 120 s.
OLD_SERVER = ("--worker-class", "sync", "--threads", "1", "--timeout", "120")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Throttled(threading.Thread):
    """Reads a download at `rate` bytes/s through a small receive buffer, until stopped."""

    def __init__(self, port, path, cookie, rate):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)  # before connect
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid={cookie}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        self.rate, self.received, self.stopped, self.status = rate, 0, False, b""

    def run(self):
        start = time.monotonic()
        while not self.stopped:
            block = self.sock.recv(16 * 1024)
            if not block:
                break
            if not self.status:
                self.status = block.split(b"\r\n", 1)[0]
            self.received += len(block)
            ahead = self.received / self.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        self.sock.close()


def timed_get(port, path, cookie="") -> float | None:
    t = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"} if cookie else {})
        response = conn.getresponse()
        response.read()
        conn.close()
    except OSError:
        return None
    return time.perf_counter() - t


PAGES = [("/health", "/health", False), ("front page", "/", True)]


def sample(port, cookie, n, into: dict) -> None:
    """n timed GETs of each page, appended to into[name] (None for a failed request)."""
    for name, path, logged_in in PAGES:
        into.setdefault(name, []).extend(
            timed_get(port, path, cookie if logged_in else "") for _ in range(n)
        )


def summary(times: list) -> dict:
    ok = sorted(t for t in times if t is not None)
    return {
        "median": statistics.median(ok) if ok else float("nan"),
        "p95": ok[int(0.95 * (len(ok) - 1))] if ok else float("nan"),
        "failed": len(times) - len(ok),
        "over_1s": sum(1 for t in ok if t > 1.0),
        "n": len(times),
    }


def web_memory(master: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB of the gunicorn master and its workers."""
    pids = [master] + [
        int(p)
        for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if p.strip()
    ]
    rss = pss = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "Rss":
                rss += int(value.split()[0])
            elif key == "Pss":
                pss += int(value.split()[0])
    return rss, pss


def prepare(data: Path) -> tuple[str, int]:
    """Database, a superuser session and a 64 MiB segment; (session cookie, segment id)."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from tests.factories import make_camera, make_segments

    call_command("migrate", verbosity=0)
    [segment] = make_segments(make_camera("bench"), datetime(2026, 11, 23, 14, tzinfo=UTC), 1)
    with open(segment.abs_path, "wb") as f:
        for _ in range(SIZE // (1024 * 1024)):
            f.write(os.urandom(1024 * 1024))
    user = User.objects.create_superuser("bench", password="bench-pass-phrase-1")
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value, segment.pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--downloads", type=int, default=2)
    parser.add_argument("--rate-kb", type=float, default=150)
    parser.add_argument("--requests", type=int, default=60, help="per page and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--sync-workers",
        action="store_true",
        help="the server as it was before: 2 sync workers, 120 s timeout (for comparison)",
    )
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="crimebox-bench-web-"))
    port = free_port()
    os.environ.update(
        CRIMEBOX_DATA_DIR=str(data),
        CRIMEBOX_ENV_FILE=os.devnull,
        DJANGO_SETTINGS_MODULE="crimebox.settings",
        CRIMEBOX_LOG_LEVEL="WARNING",
        CRIMEBOX_BIND=f"127.0.0.1:{port}",
        CRIMEBOX_ALLOWED_HOSTS="127.0.0.1",
    )
    cookie, segment_id = prepare(data)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, check=True
    )
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [
            str(gunicorn),
            "-c",
            "python:crimebox.gunicorn_conf",
            "crimebox.wsgi",
            "--access-logfile",
            "/dev/null",
            *(OLD_SERVER if args.sync_workers else ()),
        ],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while timed_get(port, "/health") is None:
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)
        sample(port, cookie, 20, {})  # warm up every worker
        idle_mem = web_memory(server.pid)
        # Rounds alternate without and with the downloads, so a machine whose load drifts
        # (other jobs on the same cores) weighs on both sides alike.
        idle, loaded, statuses, load_mem = {}, {}, set(), (0, 0)
        url = f"/footage/segment/{segment_id}/download"
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            sample(port, cookie, per_round, idle)
            clients = [
                Throttled(port, url, cookie, args.rate_kb * 1000) for _ in range(args.downloads)
            ]
            for c in clients:
                c.start()
            time.sleep(3)  # the downloads fill their socket buffers and hold their threads
            sample(port, cookie, per_round, loaded)
            load_mem = max(load_mem, web_memory(server.pid))
            statuses |= {c.status.decode() for c in clients}
            for c in clients:
                c.stopped = True
            for c in clients:
                c.join(timeout=10)
            time.sleep(1)  # the server notices the closed connections and frees the slots
    finally:
        server.terminate()
        server.wait(timeout=30)
    kind = "2 sync workers" if args.sync_workers else "gthread (crimebox/gunicorn_conf.py)"
    print(
        f"{kind}: {args.downloads} downloads at {args.rate_kb:g} KB/s "
        f"({', '.join(sorted(statuses))}), {args.rounds} rounds"
    )
    for name in idle:
        b, d = summary(idle[name]), summary(loaded[name])
        print(
            f"{name:11s} median {b['median'] * 1000:6.1f} ms -> {d['median'] * 1000:6.1f} ms "
            f"(ratio {d['median'] / b['median']:.2f}), p95 {b['p95'] * 1000:6.1f} -> "
            f"{d['p95'] * 1000:6.1f} ms (ratio {d['p95'] / b['p95']:.2f}); "
            f"failed {d['failed']}, over 1 s {d['over_1s']} of {d['n']}"
        )
    print(
        f"web processes: RSS {idle_mem[0] / 1024:.0f} MiB idle, {load_mem[0] / 1024:.0f} MiB "
        f"with downloads; PSS {idle_mem[1] / 1024:.0f} MiB idle, {load_mem[1] / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
