#!/usr/bin/env python
"""RTCC console benchmark against FerretDB (tests/peers/install.sh builds it).

    .venv/bin/python bench/rtcc.py [--documents 4000] [--delays 10] [--memory 2000,8000]
                                   [--fill-boxes 50] [--days 30]

1. Ingest: N documents of one box (4 cameras' segments and a heartbeat a minute, signed as a
   box signs them) in FerretDB; the ingest's documents/s into the read models with signature
   and chain checks (tick() until caught up), against raw `find` of the same documents (per
   collection, {box}, sorted by n, fully iterated) before and after, warm, in the same run:
   the ratio to the faster (goal >= 0.5), and the CPU the ingest and the ledger's server used.
2. Delay: `manage.py rtcc_ingest` running (poll CRIMEBOX_RTCC_POLL_SECONDS, 2 s); a heartbeat
   inserted, then the time until its sample is in the console's database: median and max; the
   loop's peak RSS. Memory: `rtcc_ingest --once` catching up boxes of growing backlogs.
3. Read models at fleet size (bench/rtcc_fill.fill): the fill time, and the queries the pages
   build on: a camera's 24 h timeline, where and when over an hour for all boxes, which box
   recorded SHA-256 X, the fleet list. FerretDB proves behaviour, never performance: only the
   ratio in 1 and the console's own SQL in 3 are worth quoting.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup(data: Path, uri: str) -> dict:
    env = {
        **os.environ,
        "CRIMEBOX_DATA_DIR": str(data),
        "CRIMEBOX_RTCC_ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "rtcc.settings",
        "CRIMEBOX_LOG_LEVEL": "WARNING",
        "CRIMEBOX_RTCC_URI": uri,
        "CRIMEBOX_RTCC_DB": "rtcc",
        "CRIMEBOX_RTCC_POLL_SECONDS": "2",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def enrolled_box(db, box_id: str):  # noqa: ANN001, ANN201
    """A box in the ledger, seen by the console and enrolled (a LedgerBox)."""
    from rtcc import ingest as rtcc_ingest
    from rtcc.trust import enrol
    from tests.rtcc.conftest import LedgerBox

    box = LedgerBox(db, box_id)
    box.register()
    rtcc_ingest.tick()
    enrol(box_id, box.key.fingerprint)
    return box


def put_documents(db, box, n: int) -> int:  # noqa: ANN001
    """n documents of the box in the ledger: 4 cameras' segments and a heartbeat a minute."""
    from tests.rtcc.conftest import T0

    docs: dict[str, list[dict]] = {"segments": [], "heartbeats": []}
    while sum(len(v) for v in docs.values()) < n:
        for camera in range(1, 5):
            docs["segments"].append(box.segment_doc(camera))
        box.beats = getattr(box, "beats", 0) + 1
        beat = box.doc(
            "heartbeat",
            f"boot:{box.beats}",
            sequence=box.beats,
            time=T0,
            disk={"total": 1, "free": 1},
            pi=None,
            clock_synced=True,
            software="crimebox",
            cameras=[],
            outbox={"pending": 0},
            load_centi=None,
            zerotier=None,
        )
        docs["heartbeats"].append(beat)
    for name, batch in docs.items():
        for i in range(0, len(batch), 5000):
            db[name].insert_many(batch[i : i + 5000])
    return sum(len(v) for v in docs.values())


def ingest(n: int, db, server_pid: int) -> None:  # noqa: ANN001
    from rtcc import ingest as rtcc_ingest
    from rtcc.ledger import COLLECTIONS

    total = put_documents(db, enrolled_box(db, "bench-box"), n)

    def raw_find() -> tuple[int, float]:
        t = time.perf_counter()
        raw = 0
        for name in COLLECTIONS:
            found = db[name].find({"box": "bench-box"}).sort("n", 1).batch_size(200)
            raw += sum(1 for _ in found)
        return raw, time.perf_counter() - t

    raw, first_s = raw_find()
    # Until the read models hold every document (the pass that then finds nothing new is the
    # next poll's, not counted). CPU: this process (the ingest) and the ledger's server.
    t, cpu, server_cpu = time.perf_counter(), time.process_time(), _cpu_seconds(server_pid)
    worker_cpu = _worker_cpu()
    done = 0
    while done < total:
        got = rtcc_ingest.tick().documents
        if not got:
            raise SystemExit(f"ingest stalled at {done} of {total}")
        done += got
    ingest_s = time.perf_counter() - t
    cpu, server_cpu = time.process_time() - cpu, _cpu_seconds(server_pid) - server_cpu
    worker_cpu = _worker_cpu() - worker_cpu
    _, again_s = raw_find()  # the server warm, as the ingest found it: the fairer baseline
    raw_s = min(first_s, again_s)
    raw_rate, ingest_rate = raw / raw_s, done / ingest_s
    print(
        f"ingest: {total} documents; raw find {raw} in {first_s:.2f} s then {again_s:.2f} s "
        f"= {raw_rate:.0f}/s (the faster); ingest {done} in {ingest_s:.2f} s = "
        f"{ingest_rate:.0f}/s; ratio {ingest_rate / raw_rate:.2f} (goal >= 0.5); "
        f"ingest CPU {cpu:.2f} s here + {worker_cpu:.2f} s in its verification worker + "
        f"{server_cpu:.2f} s in the ledger's server"
    )


def _worker_cpu() -> float:
    """The verification worker's CPU so far (0 when there is none: CRIMEBOX_RTCC_VERIFY_WORKER
    off). The worker lives between passes: the enrolment's pass started it."""
    from rtcc.verifier import VERIFIER

    return _cpu_seconds(VERIFIER.pid) if VERIFIER.pid else 0.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def delay(samples: int, env: dict, db) -> None:  # noqa: ANN001
    from rtcc.models import HeartbeatSample
    from tests.rtcc.conftest import LedgerBox

    box = LedgerBox(db, "delay-box")
    box.register()
    proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "rtcc_ingest"], env=env)
    try:
        from rtcc.trust import enrol

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                enrol("delay-box", box.key.fingerprint)
                break
            except Exception:  # the ingest has not seen the box yet
                time.sleep(0.2)
        delays = []
        for _ in range(samples):
            beat = box.heartbeat(time=datetime.now(UTC))
            t = time.monotonic()
            while not HeartbeatSample.objects.filter(n=beat["n"], box__box_id="delay-box"):
                time.sleep(0.05)
                if time.monotonic() - t > 60:
                    raise SystemExit("no sample after 60 s")
            delays.append(time.monotonic() - t)
            time.sleep(0.7)
        peak = _peak_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    print(
        f"delay insert -> read model (poll 2 s): median {statistics.median(delays):.2f} s, "
        f"max {max(delays):.2f} s over {samples}; the ingest loop's peak RSS {peak:.0f} MiB"
    )


def _peak_mib(pid: int) -> float:
    """A running process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory(sizes: list[int], env: dict, db) -> None:  # noqa: ANN001
    """`rtcc_ingest --once` catching up a box of N new documents, for each N: its peak RSS
    must not grow with N (the ledger is streamed a batch at a time, never listed)."""
    for n in sizes:
        put_documents(db, enrolled_box(db, f"memory-{n}"), n)
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "rtcc_ingest", "--once"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"rtcc_ingest --once failed ({proc.returncode})")
        print(
            f"rtcc_ingest --once over {n} new documents: {time.perf_counter() - t:.1f} s, "
            f"peak RSS {usage.ru_maxrss / 1024:.0f} MiB"
        )


def pages(boxes: int, days: int) -> None:
    from django.db.models import Q

    from bench.rtcc_fill import fill
    from rtcc.models import Box, Camera, SegmentRecord

    t = time.perf_counter()
    counts = fill(boxes=boxes, cameras=4, days=days)
    print(f"fill {counts} in {time.perf_counter() - t:.1f} s")
    now = SegmentRecord.objects.order_by("-end").values_list("end", flat=True).first()
    camera = Camera.objects.order_by("pk").first()
    sha = SegmentRecord.objects.order_by("-pk").values_list("sha256", flat=True).first()
    hour = (now - timedelta(hours=5), now - timedelta(hours=4))
    queries = {
        "camera 24 h timeline": lambda: list(
            SegmentRecord.objects.filter(
                camera=camera, start__lt=now, start__gte=now - timedelta(hours=24, minutes=15)
            )
            .filter(end__gt=now - timedelta(hours=24))
            .values("start", "end", "verification")
        ),
        "where+when 1 h, all boxes": lambda: list(
            SegmentRecord.objects.filter(
                start__lt=hour[1], start__gte=hour[0] - timedelta(minutes=15), end__gt=hour[0]
            ).values("camera_id", "start", "end", "sha256")
        ),
        "which box recorded sha256": lambda: list(
            SegmentRecord.objects.filter(sha256=sha).values("box__box_id", "camera__name")
        ),
        "fleet list": lambda: list(
            Box.objects.filter(~Q(enrolment="revoked")).prefetch_related("cameras")
        ),
    }
    for name, query in queries.items():
        query()
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            rows = query()
            runs.append(time.perf_counter() - t)
        print(f"  {name}: {len(rows)} rows, median {statistics.median(runs) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=4000)
    parser.add_argument("--delays", type=int, default=10)
    parser.add_argument("--memory", default="2000,8000", help="documents per box; '' skips")
    parser.add_argument("--fill-boxes", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    from tests.peers.ferretdb import FerretDB

    with tempfile.TemporaryDirectory(prefix="bench-rtcc-") as tmp:
        server = FerretDB(Path(tmp) / "ferretdb").start()
        try:
            env = setup(Path(tmp) / "console", server.uri)
            import pymongo

            db = pymongo.MongoClient(server.uri, tz_aware=True).rtcc
            ingest(args.documents, db, server.proc.pid)
            if args.delays:
                delay(args.delays, env, db)
            if args.memory:
                memory([int(n) for n in args.memory.split(",")], env, db)
            if args.fill_boxes:
                pages(args.fill_boxes, args.days)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
