#!/usr/bin/env python
"""Segments admin on a year of data: 4 cameras x 35,040 segments (15 min each).

    .venv/bin/python bench/segments_admin.py [--per-camera 35040]

Fills a temp database with rows (no files), then times the admin changelist unfiltered and
with each filter, against a baseline measured in the same run: one primary-key lookup page
(`/admin/recordings/segment/<id>/change/`).
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-camera", type=int, default=35040)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="crimebox-bench-admin-"))
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
    from django.test import Client

    call_command("migrate", verbosity=0)
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
                for i in range(args.per_camera)
            ],
            batch_size=5000,
        )
    print(f"{Segment.objects.count()} segments")
    User.objects.create_superuser("bench", password="bench-pass-1")
    client = Client()
    client.login(username="bench", password="bench-pass-1")
    base = "/recordings/segment/"
    one = Segment.objects.order_by("?").first().pk

    def timed(url: str) -> float:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            response = client.get(url)
            best = min(best, time.perf_counter() - t)
            assert response.status_code == 200, (url, response.status_code)
        return best

    baseline = timed(f"{base}{one}/change/")
    print(f"baseline (one segment's page): {baseline * 1000:.0f} ms")
    cam = Camera.objects.first().pk
    for label, query in [
        ("unfiltered", ""),
        ("camera", f"?camera__id__exact={cam}"),
        ("status", "?status__exact=complete"),
        ("on hold", "?on_hold__exact=1"),
        ("day", "?start__year=2026&start__month=3&start__day=14"),
        ("camera + day", f"?camera__id__exact={cam}&start__year=2026&start__month=3&start__day=14"),
    ]:
        t = timed(base + query)
        print(f"changelist {label:>13}: {t * 1000:6.0f} ms = {t / baseline:5.1f} x baseline")


if __name__ == "__main__":
    main()
