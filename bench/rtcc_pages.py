#!/usr/bin/env python
"""The RTCC console's pages on a city-sized fleet, straight from its read models (no ledger).

    .venv/bin/python bench/rtcc_pages.py [--boxes 50,500] [--days 30] [--beat-minutes 1]

Fills N boxes x 4 cameras x DAYS of 15-minute segments (one gap per camera per day) and a day
of heartbeats per box into a fresh console database (rtcc.settings), then times the fleet
page, a box page and where-and-when over an hour for all boxes and for 25 (best of 3, with query
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
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STEP = timedelta(minutes=15)


def insert(model: Any, columns: list[str], rows: Iterable[tuple]) -> None:
    """Rows straight into the model's table: one executemany, no model instances (bulk_create
    of 5.8 M segments spent most of the fill building objects). Values must be DB-ready."""
    from django.db import connection

    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
    marks = ", ".join("?" * len(columns))
    connection.ensure_connection()
    connection.connection.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def fill(first: int, boxes: int, days: int, beat_minutes: int, now: datetime) -> None:
    """Boxes first..boxes-1 with their cameras, segments, gaps and heartbeats (raw inserts,
    one transaction per box)."""
    from django.db import connection, transaction

    from rtcc.models import Box, Camera, GapRecord, HeartbeatSample, SegmentRecord

    # For the fill's own connection only: the measuring process opens its own with the
    # console's settings (WAL, synchronous=NORMAL, the default cache).
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-1000000")  # 1 GB: the segment indexes stay cached
    db_time = connection.ops.adapt_datetimefield_value
    start = now - timedelta(days=days)
    per_camera = days * 24 * 4
    # The same instants for every camera: adapted to the DB's text once.
    starts = [db_time(start + i * STEP) for i in range(per_camera + 1)]
    ingested = db_time(now)
    gap_times = [
        (
            db_time(start + timedelta(days=d, hours=3)),
            db_time(start + timedelta(days=d, hours=3, minutes=4)),
        )
        for d in range(days)
    ]
    beats = 24 * 60 // beat_minutes
    beat_times = [db_time(now - timedelta(minutes=i * beat_minutes)) for i in range(beats)]
    for b in range(first, boxes):
        with transaction.atomic():
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
                insert(
                    SegmentRecord,
                    ["box", "camera", "sequence", "start", "end", "size", "sha256",
                     "prev_chain_hash", "chain_hash", "status", "on_hold", "deleted_on_box",
                     "verification", "doc_id", "n", "ingested_at"],
                    (
                        (box.pk, cam.pk, i + 1, starts[i], starts[i + 1], 450_000_000,
                         f"{b:08x}{i:056x}", "0" * 64, "1" * 64, "", False, False, "verified",
                         f"box-{b:04}:{cam.camera_id}:{i}", i, ingested)
                        for i in range(per_camera)
                    ),
                )  # fmt: skip
                insert(
                    GapRecord,
                    ["box", "camera", "gap", "start", "end", "cause", "cause_text", "detail",
                     "doc_id"],
                    (
                        (box.pk, cam.pk, cam.camera_id * 1000 + d, gap_start, gap_end,
                         "camera_down", "", "", f"box-{b:04}:gap:{cam.camera_id}:{d}")
                        for d, (gap_start, gap_end) in enumerate(gap_times)
                    ),
                )  # fmt: skip
            insert(
                HeartbeatSample,
                ["box", "received_at", "time", "cpu_temp_millic", "throttled", "under_voltage",
                 "disk_free", "load_centi", "backlog", "clock_synced", "n"],
                (
                    (box.pk, t, t, 50000, False, False, 10**11, 80, 2, True, i)
                    for i, t in enumerate(beat_times)
                ),
            )  # fmt: skip


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
        # 25 named boxes, the same at both sizes.
        (
            "where and when, 1 h, 25",
            where + "&boxes=" + ",".join(f"box-{b:04}" for b in range(0, 50, 2)),
        ),
    ]:
        seconds, queries, size_b = timed(url)
        kib = size_b // 1024
        print(f"{label:>26}: {seconds * 1000:6.1f} ms, {queries:2} queries, {kib} KiB")
    peak = peak_rss_mib()
    print(f"{'web process peak RSS':>26}: {peak:.0f} MiB (Django, the pages above, served thrice)")


def peak_rss_mib() -> float:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries it across execve,
    so the measuring child reported the filling parent's memory (439 MiB once, with the fill's
    1 GB page cache, for a process whose own peak was ~75 MiB). VmHWM belongs to this image."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])
        / 1024
    )


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
