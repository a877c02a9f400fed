#!/usr/bin/env python
"""Fault campaign: kill -9 everything, drop a camera, step FFmpeg's clock; then check all.

    .venv/bin/python bench/faults.py [--trials 3] [--segment 10] [--seed 1]

Two RTSP test cameras (tests/peers/rtsp_server.py), the recorder, the cluster and the web
server, each under a restart loop like its systemd unit (Restart=always, RestartSec; on the
main process's death the rest of its group is SIGKILLed, as KillMode=mixed does). Then
`--trials` random kill -9 of each kind (one FFmpeg, the recorder, the cluster, the recorder
with its FFmpegs, everything), a camera outage and a clock step of FFmpeg's clock (libfaketime)
back by more than a segment. Then the full check: files vs rows vs SHA-256, chain sequences,
no second claimed twice, every hole covered by a Gap, every file decodes, verify_segments,
verify_audit, PRAGMA integrity_check, and the hole per kind (median, max).
Prints the table; exits 1 on any loss. Everything runs on loopback in a temporary data dir.
"""

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
KINDS = ("ffmpeg", "recorder", "cluster", "recorder+ffmpeg", "everything")
HOLE = 0.5  # seconds between two segments that count as a hole


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Unit:
    """A process under a restart loop, like a systemd unit with Restart=always."""

    def __init__(self, name: str, argv: list[str], env: dict, restart_sec: float, log: Path):
        self.name, self.argv, self.env, self.restart_sec = name, argv, env, restart_sec
        self.log = log.open("ab")
        self.proc: subprocess.Popen | None = None
        self.stopping = False
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()
        self.ready.wait(30)

    def loop(self) -> None:
        while not self.stopping:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.ready.set()
            self.proc.wait()
            kill_group(self.proc.pid)  # the rest of the cgroup, as KillMode=mixed
            if not self.stopping:
                time.sleep(self.restart_sec)

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.stopping = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.thread.join(45)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def ffmpeg_pids(recorder: Unit) -> list[int]:
    if recorder.proc is None:
        return []
    out = subprocess.run(
        ["pgrep", "-g", str(recorder.proc.pid), "-x", "ffmpeg"], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()]


class Camera:
    def __init__(self, log: Path):
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(ROOT / "tests/peers/rtsp_server.py"), "--port", str(self.port)]
            + ["--size", "640x360", "--bitrate", "800"],
            stdout=subprocess.PIPE,
            stderr=self.log.open("ab"),
            text=True,
        )
        assert self.proc.stdout.readline().startswith("READY")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def setup(data: Path, segment: int) -> tuple[dict, Path]:
    clock = data / "faketime"
    clock.write_text("+0\n")
    wrapper = data / "ffmpeg-faketime"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"export LD_PRELOAD={FAKETIME} FAKETIME_TIMESTAMP_FILE={clock} "
        "FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1\n"
        'exec ffmpeg "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")},
        "CRIMEBOX_DATA_DIR": str(data),
        "CRIMEBOX_ENV_FILE": os.devnull,
        "CRIMEBOX_SEGMENT_SECONDS": str(segment),
        "CRIMEBOX_FFMPEG": str(wrapper) if FAKETIME.exists() else "ffmpeg",
        "CRIMEBOX_BIND": f"127.0.0.1:{free_port()}",
        "CRIMEBOX_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "crimebox.settings",
        "PYTHONUNBUFFERED": "1",
    }
    return env, clock


def wait_recording(cameras, since: float, timeout: float = 60) -> bool:
    """Both cameras have closed a segment that started after `since`."""
    from datetime import UTC, datetime

    from recordings.models import Segment

    after = datetime.fromtimestamp(since, UTC)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(
            Segment.objects.filter(camera=c).chained().filter(start__gt=after).exists()
            for c in cameras
        ):
            return True
        time.sleep(1)
    return False


def campaign(args, units, cams, cameras, clock: Path) -> list[tuple[str, float, float]]:
    """Run the faults; returns (kind, wall time of the fault, wall time it ended)."""
    rng = random.Random(args.seed)
    trials = [k for k in KINDS for _ in range(args.trials)]
    rng.shuffle(trials)
    events = []
    for n, kind in enumerate(trials, 1):
        time.sleep(rng.uniform(2, args.segment))  # anywhere inside a segment
        at = time.time()
        if kind == "ffmpeg":
            pids = ffmpeg_pids(units["recorder"])
            if pids:
                os.kill(rng.choice(pids), signal.SIGKILL)
        elif kind == "recorder":
            units["recorder"].kill9()
        elif kind == "cluster":
            units["cluster"].kill9()
        elif kind == "recorder+ffmpeg":
            pids = ffmpeg_pids(units["recorder"])
            units["recorder"].kill9()
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
        else:
            for unit in units.values():
                unit.kill9()
        ok = wait_recording(cameras, at)
        events.append((kind, at, time.time()))
        print(f"  trial {n}/{len(trials)}: kill -9 {kind}: {'ok' if ok else 'NOT RECORDING'}")
    at = time.time()
    cams[0].stop()
    time.sleep(args.segment)
    cams[0].start()
    ok = wait_recording(cameras, time.time(), timeout=120)
    events.append(("camera outage", at, time.time()))
    print(f"  camera outage {time.time() - at:.0f} s: {'ok' if ok else 'NOT RECORDING'}")
    if FAKETIME.exists():
        at = time.time()
        clock.write_text(f"-{3 * args.segment}\n")  # FFmpeg reuses three segments' names
        time.sleep(4 * args.segment)
        clock.write_text("+0\n")
        ok = wait_recording(cameras, time.time())
        events.append(("ffmpeg clock step", at, time.time()))
        print(f"  FFmpeg clock -{3 * args.segment} s and back: {'ok' if ok else 'NOT RECORDING'}")
    return events


def check_rows_and_files() -> list[str]:
    """Files vs rows vs SHA-256; rows lost, missing, corrupt or left "recording"."""
    from django.conf import settings

    from crimebox.hashing import sha256_file
    from recordings.index import relative_path
    from recordings.models import Segment

    problems = []
    root = Path(settings.RECORDINGS_DIR)
    files = {relative_path(p) for p in root.rglob("*.mp4")}
    rows = {s.path: s for s in Segment.objects.all()}
    problems += [f"file with no row: {f}" for f in sorted(files - rows.keys())]
    problems += [f"unreadable file kept: {p.name}" for p in root.rglob("*.unreadable")]
    for segment in rows.values():
        if segment.status in Segment.HASHED_FILES:
            if not segment.abs_path.is_file():
                problems.append(f"row with no file: {segment.path}")
            elif sha256_file(segment.abs_path) != segment.sha256:
                problems.append(f"file does not hash to its row: {segment.path}")
        elif segment.status != Segment.Status.DELETED:
            problems.append(f"segment {segment.path} is {segment.status}: {segment.note}")
    return problems


def check_plays() -> list[str]:
    from recordings.models import Segment

    problems = []
    for segment in Segment.objects.filter(status__in=Segment.ON_DISK):
        proc = subprocess.run(
            ["ffmpeg", "-v", "error", "-xerror", "-i", str(segment.abs_path), "-f", "null", "-"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            problems.append(f"does not decode: {segment.path}: {proc.stderr.strip()[-200:]}")
    return problems


def check_stores() -> list[str]:
    from django.db import connection

    from audit.log import run_check
    from recordings.evidence.integrity import verify_segments

    check = verify_segments()
    problems = [
        f"verify_segments: {p['problem']} {p['path']}: {p['detail']}" for p in check.problems
    ]
    problems += [f"verify_audit: {p}" for p in run_check().problems]
    with connection.cursor() as cursor:
        result = cursor.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        problems.append(f"PRAGMA integrity_check: {result}")
    return problems


def covered(start, end, gaps) -> float:
    """Seconds of [start, end] that no Gap covers."""
    left = start
    for gap in sorted(gaps, key=lambda g: g.start):
        if gap.start > left:
            break
        if gap.end is None or gap.end > left:
            left = end if gap.end is None else max(left, gap.end)
    return max(0.0, (end - left).total_seconds()) if left < end else 0.0


def holes_and_overlaps(events, segment_seconds: int) -> tuple[dict, list[str]]:
    """Holes between consecutive segments, by the fault that made them; problems found."""
    from cameras.models import Camera as CameraRow
    from recordings.models import Gap, Segment

    by_kind: dict[str, list[float]] = {}
    problems = []
    for camera in CameraRow.objects.all():
        segments = list(Segment.objects.filter(camera=camera).chained().order_by("sequence"))
        gaps = list(Gap.objects.filter(camera=camera))
        for a, b in zip(segments, segments[1:], strict=False):
            hole = (b.start - a.end).total_seconds()
            if hole < -0.01:
                problems.append(f"{camera}: {a.path} and {b.path} both claim {-hole:.2f} s")
            if hole <= HOLE:
                continue
            uncovered = covered(a.end, b.start, gaps)
            if uncovered > 1.0:
                problems.append(f"{camera}: hole of {hole:.1f} s after {a.path} with no Gap")
            at = a.end.timestamp()
            kind = next(
                (k for k, start, end in events if start - segment_seconds <= at <= end), "other"
            )
            by_kind.setdefault(kind, []).append(hole)
    return by_kind, problems


def report(events, by_kind, problems, segment_seconds: int) -> None:
    print(f"\n{'fault':<20}{'trials':>7}{'holes':>7}{'median s':>10}{'max s':>8}")
    for kind in (*KINDS, "camera outage", "ffmpeg clock step", "other"):
        trials = sum(1 for k, _, _ in events if k == kind)
        holes = by_kind.get(kind, [])
        if not trials and not holes:
            continue
        median = f"{statistics.median(holes):.2f}" if holes else "-"
        longest = f"{max(holes):.2f}" if holes else "-"
        print(f"{kind:<20}{trials:>7}{len(holes):>7}{median:>10}{longest:>8}")
    from recordings.models import Gap, Segment

    statuses = {}
    for status in Segment.objects.values_list("status", flat=True):
        statuses[status] = statuses.get(status, 0) + 1
    causes = {}
    for cause in Gap.objects.values_list("cause", flat=True):
        causes[cause] = causes.get(cause, 0) + 1
    print(f"\nsegments by status: {statuses}")
    print(f"gaps by cause: {causes}")
    print(f"{segment_seconds} s segments; problems: {len(problems)}")
    for problem in problems:
        print(f"  LOSS: {problem}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3, help="kill -9 trials of each kind")
    parser.add_argument("--segment", type=int, default=10, help="segment seconds")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    data = Path(tempfile.mkdtemp(prefix="crimebox-faults-"))
    env, clock = setup(data, args.segment)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from cameras.models import Camera as CameraRow

    log = data / "processes.log"
    cams = [Camera(log) for _ in range(2)]
    for cam in cams:
        cam.start()
    cameras = [
        CameraRow.objects.create(
            name=f"faults {i}", source=CameraRow.Source.RTSP, main_stream_uri=c.url
        )
        for i, c in enumerate(cams)
    ]
    py = [sys.executable, str(ROOT / "manage.py")]
    units = {
        "recorder": Unit("recorder", [*py, "record"], env, 1, log),
        "cluster": Unit("cluster", [*py, "qcluster"], env, 2, log),
        "web": Unit(
            "web",
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:crimebox.gunicorn_conf"]
            + ["crimebox.wsgi"],
            env,
            2,
            log,
        ),
    }
    print(f"data in {data}; {args.trials} trial(s) of each kind, {args.segment} s segments")
    problems = []
    try:
        if not wait_recording(cameras, time.time() - 3600, timeout=90):
            problems.append("the cameras never started recording")
        events = campaign(args, units, cams, cameras, clock)
        time.sleep(args.segment)
    finally:
        for unit in units.values():
            unit.stop()
        for cam in cams:
            cam.stop()
    problems += check_rows_and_files() + check_plays() + check_stores()
    by_kind, found = holes_and_overlaps(events, args.segment)
    report(events, by_kind, problems + found, args.segment)
    return 1 if problems + found else 0


if __name__ == "__main__":
    sys.exit(main())
