#!/usr/bin/env python
"""Replication benchmark against FerretDB (tests/peers/install.sh builds it).

    .venv/bin/python bench/sync.py [--documents 10000] [--cameras 1] [--segment 5] [--seconds 90]

1. Drain: an outbox of N documents (segment-shaped, signed) sent by the sender (claim, insert,
   settle, sync log) into FerretDB, against raw pymongo `insert_many` of the same documents in
   batches of the same size into another database, in the same run: documents/s and the ratio.
2. Latency: the recorder (real FFmpeg, GStreamer RTSP test cameras) and the Django-Q cluster
   running with CRIMEBOX_RTCC_URI set; for each segment, the time from its end (the media's wall
   clock end, when FFmpeg closes it) and from its hash being stored, to its document being
   readable at the datacenter: median and p95.
"""

import argparse
import os
import signal
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
        "CRIMEBOX_ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "crimebox.settings",
        "CRIMEBOX_LOG_LEVEL": "WARNING",
        "CRIMEBOX_BOX_ID": "bench-box",
        "CRIMEBOX_RTCC_URI": uri,
        "CRIMEBOX_RTCC_DB": "rtcc",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def drain(n: int, uri: str) -> None:
    import pymongo
    from django.db import transaction

    from crimebox import outbox
    from crimebox.signature import from_body, ms
    from sync import remote, sender
    from sync.documents import base
    from sync.models import OutboxItem
    from sync.outbox import add

    remote.create_collections(uri, "rtcc")
    t0 = datetime(2026, 11, 24, tzinfo=UTC)
    w = time.perf_counter()
    with transaction.atomic():
        for i in range(n):
            start = t0 + timedelta(seconds=900 * i)
            add(
                base(
                    outbox.SEGMENT,
                    f"999999:{i + 1}",
                    camera_id=999999,
                    camera="bench",
                    sequence=i + 1,
                    start=ms(start),
                    end=ms(start + timedelta(seconds=900)),
                    duration_ms=900_000,
                    size=450_000_000 + i,
                    codec="h264",
                    sha256=f"{i:064x}",
                    prev_chain_hash=f"{i - 1:064x}",
                    chain_hash=f"{i + 10**6:064x}",
                    status="complete",
                    clock_synced=True,
                )
            )
    build = time.perf_counter() - w
    docs = [from_body(b) for b in OutboxItem.objects.order_by("id").values_list("body", flat=True)]
    w = time.perf_counter()
    result = sender.send_pending(force=True, max_seconds=3600)
    ours = time.perf_counter() - w
    assert result.ok and result.sent >= n, result
    remote.create_collections(uri, "raw")  # the same indexes, so the same work per insert
    raw_db = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000).raw
    w = time.perf_counter()
    for i in range(0, len(docs), sender.BATCH):
        raw_db.segments.insert_many(docs[i : i + sender.BATCH], ordered=False)
    raw = time.perf_counter() - w
    count = remote.database(uri).segments.count_documents({})
    # Out of the way of the latency run's polling (an administrator's clean-up, not the box's).
    pymongo.MongoClient(uri).rtcc.segments.delete_many({"camera_id": 999999})
    print(f"drain: {n} documents (signing + outbox insert took {build:.1f} s, {n / build:.0f}/s)")
    print(f"  sender (claim, insert_many, settle, log): {ours:.2f} s = {n / ours:.0f} docs/s")
    print(f"  raw pymongo insert_many, same documents: {raw:.2f} s = {n / raw:.0f} docs/s")
    print(f"  ratio sender/raw throughput: {raw / ours:.2f}  (datacenter holds {count}, once each)")


def latency(env: dict, cameras: int, segment: int, seconds: int, uri: str) -> None:
    import pymongo

    from bench.recording import start_servers
    from cameras.models import Camera
    from recordings.models import Segment

    env = {**env, "CRIMEBOX_SEGMENT_SECONDS": str(segment)}
    servers = start_servers(cameras)
    for i, (_, url) in enumerate(servers):
        Camera.objects.create(name=f"bench {i}", source=Camera.Source.RTSP, main_stream_uri=url)
    manage = [sys.executable, str(ROOT / "manage.py")]
    procs = [
        subprocess.Popen([*manage, "record"], env=env, cwd=ROOT),
        subprocess.Popen([*manage, "qcluster"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL),
    ]
    segments = pymongo.MongoClient(uri, tz_aware=True).rtcc.segments
    seen: dict[str, datetime] = {}
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            for doc in segments.find({"box": "bench-box"}, {"_id": 1}):
                seen.setdefault(doc["_id"], datetime.now(UTC))
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
        for proc, _ in servers:
            proc.terminate()
    from sync.models import OutboxItem, SyncLog

    rows = dict(OutboxItem.objects.filter(kind="segment").values_list("doc_id", "sent_at"))
    from_end, from_hash, to_sent = [], [], []
    for s in Segment.objects.chained().exclude(camera__name="bench"):
        doc_id = f"bench-box:segment:{s.camera_id}:{s.sequence}"
        if doc_id in seen:
            from_end.append((seen[doc_id] - s.end).total_seconds())
            from_hash.append((seen[doc_id] - s.hashed_at).total_seconds())
        if rows.get(doc_id):
            to_sent.append((rows[doc_id] - s.hashed_at).total_seconds())
    attempts = SyncLog.objects.filter(started_at__gt=datetime.now(UTC) - timedelta(seconds=seconds))
    if len(from_end) < 2:
        print("latency: too few segments reached the datacenter", len(from_end))
        return

    def p95(xs):
        return statistics.quantiles(xs, n=20)[-1]

    print(
        f"latency: {cameras} camera(s) 1080p25 ~4 Mbit/s, {segment} s segments, {seconds} s, "
        f"recorder + Django-Q cluster running, {len(from_end)} segments"
    )
    print(
        f"  segment end -> readable at the datacenter: median {statistics.median(from_end):.2f} s, "
        f"p95 {p95(from_end):.2f} s, max {max(from_end):.2f} s"
    )
    print(
        f"  hash stored -> readable at the datacenter: median {statistics.median(from_hash):.2f} s,"
        f" p95 {p95(from_hash):.2f} s"
    )
    print(
        f"  hash stored -> marked delivered by the sender: median "
        f"{statistics.median(to_sent):.2f} s; {attempts.count()} send attempts, "
        f"{attempts.exclude(result='ok').count()} not ok"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--segment", type=int, default=5, help="segment seconds")
    parser.add_argument("--seconds", type=int, default=90, help="latency run length")
    args = parser.parse_args()
    from tests.peers.ferretdb import FerretDB

    data = Path(tempfile.mkdtemp(prefix="crimebox-bench-sync-"))
    datacenter = FerretDB(data / "ferretdb").start()
    try:
        env = setup(data / "box", datacenter.uri)
        drain(args.documents, datacenter.uri)
        latency(env, args.cameras, args.segment, args.seconds, datacenter.uri)
    finally:
        datacenter.stop()


if __name__ == "__main__":
    main()
