#!/usr/bin/env python
"""Recording benchmark: N cameras at 1080p ~4 Mbit/s from the RTSP test server.

    .venv/bin/python bench/recording.py [--cameras 4] [--seconds 180] [--segment 30]

Prints per camera recorded media seconds / wall seconds and the longest gap, CPU per FFmpeg
and of the supervisor as a fraction of one core, hashlib vs `sha256sum` on the same file, the
time from segment close to hash stored, and what the fsync before hashing costs. Everything
runs on loopback in a temp data dir.
"""

import argparse
import hashlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int, name: str = "ffmpeg") -> list[int]:
    """The supervisor's FFmpeg children (not a passing ffprobe of the indexer)."""
    out = subprocess.run(
        ["pgrep", "-P", str(pid), "-x", name], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()]


def start_servers(n: int) -> list[tuple[subprocess.Popen, str]]:
    servers = []
    for _ in range(n):
        port = free_port()
        proc = subprocess.Popen(
            [
                "/usr/bin/python3",
                str(ROOT / "tests/peers/rtsp_server.py"),
                "--port",
                str(port),
                "--size",
                "1920x1080",
                "--fps",
                "25",
                "--gop",
                "50",
                "--bitrate",
                "4000",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().startswith("READY")
        servers.append((proc, f"rtsp://127.0.0.1:{port}/cam"))
    return servers


def hash_speed(path: Path) -> tuple[float, float]:
    size = path.stat().st_size
    t = time.perf_counter()
    with open(path, "rb") as f:
        hashlib.file_digest(f, "sha256")
    ours = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], capture_output=True, check=True)
    theirs = time.perf_counter() - t
    return size / ours / 1e6, size / theirs / 1e6


def fsync_cost(path: Path) -> tuple[float, float]:
    """Seconds to fsync a freshly written copy of a segment (file + folder), as the indexer
    does before hashing, and seconds to hash it."""
    copy = path.with_name("fsync-bench.mp4")
    copy.write_bytes(path.read_bytes())  # dirty in the page cache, like a just-closed segment
    t = time.perf_counter()
    for target, flags in ((copy, os.O_RDONLY), (copy.parent, os.O_RDONLY | os.O_DIRECTORY)):
        fd = os.open(target, flags)
        os.fsync(fd)
        os.close(fd)
    synced = time.perf_counter() - t
    t = time.perf_counter()
    with open(copy, "rb") as f:
        hashlib.file_digest(f, "sha256")
    hashed = time.perf_counter() - t
    copy.unlink()
    return synced, hashed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--segment", type=int, default=30, help="segment seconds")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="crimebox-bench-"))
    env = {
        **os.environ,
        "CRIMEBOX_DATA_DIR": str(data),
        "CRIMEBOX_ENV_FILE": os.devnull,
        "CRIMEBOX_SEGMENT_SECONDS": str(args.segment),
        "DJANGO_SETTINGS_MODULE": "crimebox.settings",
        "CRIMEBOX_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from cameras.models import Camera
    from recordings.models import Gap, Segment

    servers = start_servers(args.cameras)
    cameras = [
        Camera.objects.create(name=f"bench {i}", source=Camera.Source.RTSP, main_stream_uri=url)
        for i, (_, url) in enumerate(servers)
    ]
    recorder = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "record"], env=env, cwd=ROOT
    )
    t0 = time.time()
    time.sleep(5)
    ffmpegs = children(recorder.pid)
    cpu0 = {pid: cpu_seconds(pid) for pid in [recorder.pid, *ffmpegs]}
    w0 = time.monotonic()
    time.sleep(max(1, args.seconds - 5))
    wall_cpu = time.monotonic() - w0
    cpu1 = {pid: cpu_seconds(pid) for pid in cpu0}
    recorder.send_signal(signal.SIGTERM)
    recorder.wait(60)
    wall = time.time() - t0
    for proc, _ in servers:
        proc.terminate()

    print(
        f"{args.cameras} cameras, 1080p25 ~4 Mbit/s, {args.segment} s segments, {wall:.0f} s wall"
    )
    for camera in cameras:
        segs = list(Segment.objects.filter(camera=camera).order_by("sequence"))
        media = sum(s.duration for s in segs)
        gaps = [
            g.duration or 0
            for g in Gap.objects.filter(camera=camera)
            if g.cause != Gap.Cause.RECORDER_DOWN
        ]
        inner = [(b.start - a.end).total_seconds() for a, b in zip(segs, segs[1:], strict=False)]
        longest = max(gaps + inner + [0.0])
        print(
            f"  {camera.name}: {len(segs)} segments, media/wall {media / wall:.3f}, "
            f"longest gap {longest:.2f} s"
        )
    print(
        f"  supervisor CPU: {(cpu1[recorder.pid] - cpu0[recorder.pid]) / wall_cpu:.4f} of one core"
    )
    for pid in ffmpegs:
        print(f"  ffmpeg {pid} CPU: {(cpu1[pid] - cpu0[pid]) / wall_cpu:.4f} of one core")
    lags = [
        (s.hashed_at - s.end).total_seconds()
        for s in Segment.objects.filter(status=Segment.Status.COMPLETE)
    ]
    if lags:
        print(
            f"  segment close -> hash stored: median {statistics.median(lags):.2f} s, "
            f"max {max(lags):.2f} s"
        )
    biggest = max(data.glob("recordings/*/*/*.mp4"), key=lambda p: p.stat().st_size)
    ours, theirs = hash_speed(biggest)
    print(
        f"  SHA-256 of {biggest.stat().st_size / 1e6:.0f} MB: hashlib {ours:.0f} MB/s, "
        f"sha256sum {theirs:.0f} MB/s, ratio {ours / theirs:.2f}"
    )
    synced, hashed = fsync_cost(biggest)
    print(
        f"  fsync (file + folder) of a freshly written {biggest.stat().st_size / 1e6:.0f} MB "
        f"segment: {synced:.3f} s, hashing it {hashed:.3f} s, fsync/hash {synced / hashed:.2f}"
    )


if __name__ == "__main__":
    main()
