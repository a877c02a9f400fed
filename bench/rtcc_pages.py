#!/usr/bin/env python
"""The RTCC console's pages on a city-sized fleet, straight from its read models (no ledger).

    .venv/bin/python bench/rtcc_pages.py [--boxes 50,500] [--days 30] [--beat-minutes 1]

Fills N boxes x 4 cameras x DAYS of 15-minute segments (one gap per camera per day) and a day
of heartbeats per box into a fresh console database (rtcc.settings), then times the fleet
page, a box page and where-and-when over an hour for all boxes (best of 3, with query
counts), for each fleet size in turn, in a fresh process whose peak memory is printed too (one
web worker's worth).
Goal: each page <= 200 ms with a number of queries that does not grow with the fleet.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = timedelta(minutes=15)


def fill(first: int, boxes: int, days: int, beat_minutes: int, now: datetime) -> None:
    """Boxes first..boxes-1 with their cameras, segments, gaps and heartbeats (bulk inserts)."""
    from rtcc.models import Box, Camera, GapRecord, HeartbeatSample, SegmentRecord

    start = now - timedelta(days=days)
    per_camera = days * 24 * 4
    for b in range(first, boxes):
        box = Box.objects.create(
            box_id=f"box-{b:04}",
            enrolment=Box.Enrolment.ENROLLED,
            fingerprint="ab" * 32,
            state=Box.State.RECORDING,
            last_contact_at=now - timedelta(seconds=30),
            health={"disk_free": 10**11, "backlog": b % 7},
        )
        cams = Camera.objects.bulk_create(
            Camera(
                box=box,
                camera_id=c + 1,
                name=f"Cam {c + 1}",
                state=Camera.State.RECORDING,
                latitude=41 + b / 1000,
                longitude=-87 - c / 1000,
            )
            for c in range(4)
        )
        for cam in cams:
            SegmentRecord.objects.bulk_create(
                (
                    SegmentRecord(
                        box=box,
                        camera=cam,
                        sequence=i + 1,
                        start=start + i * STEP,
                        end=start + (i + 1) * STEP,
                        size=450_000_000,
                        sha256=f"{b:08x}{i:056x}",
                        prev_chain_hash="0" * 64,
                        chain_hash="1" * 64,
                        verification="verified",
                        doc_id=f"box-{b:04}:{cam.camera_id}:{i}",
                        n=i,
                    )
                    for i in range(per_camera)
                ),
                batch_size=5000,
            )
            GapRecord.objects.bulk_create(
                GapRecord(
                    box=box,
                    camera=cam,
                    gap=cam.camera_id * 1000 + d,
                    start=start + timedelta(days=d, hours=3),
                    cause="camera_down",
                    end=start + timedelta(days=d, hours=3, minutes=4),
                    doc_id=f"box-{b:04}:gap:{cam.camera_id}:{d}",
                )
                for d in range(days)
            )
        beats = 24 * 60 // beat_minutes
        HeartbeatSample.objects.bulk_create(
            (
                HeartbeatSample(
                    box=box,
                    received_at=now - timedelta(minutes=i * beat_minutes),
                    time=now - timedelta(minutes=i * beat_minutes),
                    cpu_temp_millic=50000,
                    throttled=False,
                    under_voltage=False,
                    disk_free=10**11,
                    load_centi=80,
                    backlog=2,
                    clock_synced=True,
                    n=i,
                )
                for i in range(beats)
            ),
            batch_size=5000,
        )


def setup(data: Path) -> None:
    os.environ.update(
        CRIMEBOX_DATA_DIR=str(data),
        CRIMEBOX_RTCC_ENV_FILE=os.devnull,
        DJANGO_SETTINGS_MODULE="rtcc.settings",
        CRIMEBOX_LOG_LEVEL="WARNING",
        CRIMEBOX_ALLOWED_HOSTS="testserver",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def measure() -> None:
    """In a fresh process (one web worker's worth): each page best of 3, with its queries,
    then this process's peak memory."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    client = Client()
    client.login(username="bench", password="bench-pass-1")

    def timed(url: str) -> tuple[float, int, int]:
        best = float("inf")
        for _ in range(3):
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                response = client.get(url)
                best = min(best, time.perf_counter() - t)
            assert response.status_code == 200, (url, response.status_code)
        return best, len(ctx.captured_queries), len(response.content)

    hour = timezone.now().astimezone(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    where = f"/where/?start={hour:%Y-%m-%dT%H:%M}&end={hour + timedelta(hours=1):%Y-%m-%dT%H:%M}"
    for label, url in [
        ("fleet page", "/"),
        ("fleet by free space", "/?sort=-free"),
        ("box page", "/boxes/box-0001/"),
        ("where and when, 1 h, all", where),
    ]:
        seconds, queries, size_b = timed(url)
        kib = size_b // 1024
        print(f"{label:>26}: {seconds * 1000:6.1f} ms, {queries:2} queries, {kib} KiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'web process peak RSS':>26}: {peak:.0f} MiB (Django, the pages above, served thrice)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", default="50,500")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--beat-minutes", type=int, default=1)
    parser.add_argument("--measure", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        setup(Path(args.measure))
        measure()
        return
    data = Path(tempfile.mkdtemp(prefix="crimebox-bench-rtcc-"))
    setup(data)
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    User.objects.create_superuser("bench", password="bench-pass-1")
    now = timezone.now().replace(second=0, microsecond=0)
    filled = 0
    for size in (int(s) for s in args.boxes.split(",")):
        t = time.perf_counter()
        fill(filled, size, args.days, args.beat_minutes, now)
        filled = size
        print(
            f"{size} boxes x 4 cameras x {args.days} days: filled in "
            f"{time.perf_counter() - t:.0f} s",
            flush=True,
        )
        subprocess.run([sys.executable, __file__, "--measure", str(data)], check=True)
    shutil.rmtree(data)


if __name__ == "__main__":
    main()
