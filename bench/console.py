#!/usr/bin/env python
"""Console pages on a year of data: 4 cameras x 35,040 segments (15 min each), no files.

    .venv/bin/python bench/console.py [--per-camera 35040]

Times the front page, the Footage index at a moment, a camera's day, the player's playlist
(a day of segments as JSON) and the exports list, with their query counts, against a
baseline measured in the same run: one segment's admin page (a primary-key lookup).
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fill(per_camera: int) -> None:
    from cameras.models import Camera
    from recordings.models import Segment

    t0 = datetime(2025, 11, 24, tzinfo=UTC)
    step = timedelta(minutes=15)
    for c in range(4):
        camera = Camera.objects.create(name=f"cam {c}", source=Camera.Source.RTSP)
        Segment.objects.bulk_create(
            [
                Segment(
                    camera=camera,
                    sequence=i + 1,
                    start=t0 + i * step,
                    end=t0 + (i + 1) * step,
                    duration=900,
                    size=450_000_000,
                    codec="h264",
                    path=f"{camera.slug}/{i}.mp4",
                    sha256=f"{i:064x}",
                    chain_hash=f"{c:02x}{i:062x}",
                    hashed_at=t0 + (i + 1) * step,
                    status="complete",
                )
                for i in range(per_camera)
            ],
            batch_size=5000,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-camera", type=int, default=35040)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="crimebox-bench-console-"))
    os.environ.update(
        CRIMEBOX_DATA_DIR=str(data),
        CRIMEBOX_ENV_FILE=os.devnull,
        DJANGO_SETTINGS_MODULE="crimebox.settings",
        CRIMEBOX_LOG_LEVEL="WARNING",
        CRIMEBOX_ALLOWED_HOSTS="testserver",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from recordings.models import Segment

    call_command("migrate", verbosity=0)
    fill(args.per_camera)
    print(f"{Segment.objects.count()} segments")
    User.objects.create_superuser("bench", password="bench-pass-1")
    client = Client()
    client.login(username="bench", password="bench-pass-1")

    def timed(url: str) -> tuple[float, int]:
        best = float("inf")
        for _ in range(3):
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                response = client.get(url)
                best = min(best, time.perf_counter() - t)
            assert response.status_code == 200, (url, response.status_code)
        return best, len(ctx.captured_queries)

    one = Segment.objects.order_by("?").first().pk
    baseline, _ = timed(f"/recordings/segment/{one}/change/")
    print(f"baseline (one segment's admin page): {baseline * 1000:.0f} ms")
    cam = Segment.objects.first().camera_id
    for label, url in [
        ("front page", "/"),
        ("health page", "/box/health/"),
        ("footage at 14:05", "/footage/?date=2026-03-14&time=1405"),
        ("camera day", f"/footage/camera/{cam}/2026-03-14/"),
        ("camera hour", f"/footage/camera/{cam}/2026-03-14/?hour=14&at=1405"),
        ("player playlist", f"/footage/camera/{cam}/2026-03-14/playlist.json"),
        ("exports list", "/footage/exports/"),
    ]:
        t, queries = timed(url)
        print(
            f"{label:>17}: {t * 1000:6.1f} ms = {t / baseline:5.1f} x baseline, {queries} queries"
        )


if __name__ == "__main__":
    main()
