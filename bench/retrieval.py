#!/usr/bin/env python
"""Clip retrieval over a throttled link that is cut twice (docs/retrieval.md).

    .venv/bin/python bench/retrieval.py [--minutes 2] [--kbps 2000] [--cut 10] [--chunk-kb 1024]

A box and the RTCC console as two processes, like the real thing: the box (crimebox.settings,
its own data directory, a worker looping over the clip-request pass and the sender once a
second) reaches FerretDB through tests/peers/linkproxy.py, a loopback proxy limited to
`--kbps` in each direction; the console (rtcc.settings, its own data directory and database)
reaches FerretDB directly. The box's footage is fragmented MP4 made by FFmpeg (640x360 test
source, 20 s segments, indexed and chained as recorded ones, replicated before the request).
The console requests the whole window; the link is cut for `--cut` s when the console sees 30 %
and again at 60 % of the chunks. Prints: request → ready, against package size ÷ link rate
(the ratio with and without the time the link was down), bytes the box sent again after the
cuts (its own count, and what crossed the proxy), and chunks left at the datacenter.
"""

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BOX_SETUP = """
from datetime import datetime, timedelta, UTC
from sync import remote, sender
from tests.factories import make_camera, make_media
from recordings.index import index_segment, segment_dir
from recordings.evidence.signing import ensure_signing_key
remote.create_collections(remote.configured_uri(), "rtcc")
camera = make_camera("North")
start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes={minutes} + 5)
for i in range({segments}):
    t = start + timedelta(seconds=20 * i)
    path = segment_dir(camera, t) / f"{{t:%Y%m%dT%H%M%S}}Z.mp4"
    make_media(path, 20, size="640x360")
    index_segment(camera, path, start=t)
assert sender.send_pending(force=True).ok
print("BENCH", camera.pk, start.isoformat())
print(ensure_signing_key().public_pem.decode(), end="")
"""

BOX_WORKER = """
import time
from sync import sender, upload
while True:
    upload.run(max_seconds=120)
    sender.send_pending(force=True)
    time.sleep(1)
"""


def box_env(data: Path, uri: str, console_pem: Path, chunk_kb: int) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crimebox.settings",
        "CRIMEBOX_DATA_DIR": str(data),
        "CRIMEBOX_ENV_FILE": os.devnull,
        "CRIMEBOX_LOG_LEVEL": "WARNING",
        "CRIMEBOX_BOX_ID": "bench-box",
        "CRIMEBOX_RTCC_URI": uri,
        "CRIMEBOX_RTCC_DB": "rtcc",
        "CRIMEBOX_RTCC_CONSOLE_KEY_FILE": str(console_pem),
        "CRIMEBOX_RTCC_UPLOAD_KBPS": "0",  # the link is the limit
        "CRIMEBOX_RTCC_CHUNK_KB": str(chunk_kb),
        "CRIMEBOX_SEGMENT_SECONDS": "20",
    }


def manage(env: dict, *args: str, **kw) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(ROOT / "manage.py"), *args]
    return subprocess.run(argv, env=env, check=True, capture_output=True, text=True, **kw)


def console_setup(data: Path, uri: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="rtcc.settings",
        CRIMEBOX_DATA_DIR=str(data),
        CRIMEBOX_RTCC_ENV_FILE=os.devnull,
        CRIMEBOX_LOG_LEVEL="WARNING",
        CRIMEBOX_RTCC_URI=uri,
        CRIMEBOX_RTCC_DB="rtcc",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=2)
    parser.add_argument("--kbps", type=int, default=2000)
    parser.add_argument("--cut", type=float, default=10.0)
    parser.add_argument("--chunk-kb", type=int, default=1024)
    args = parser.parse_args()
    from tests.peers.ferretdb import FerretDB
    from tests.peers.linkproxy import LinkProxy

    work = Path(tempfile.mkdtemp(prefix="crimebox-bench-retrieval-"))
    ferret = FerretDB(work / "ferretdb").start()
    proxy = LinkProxy(ferret.port, kbps=args.kbps).start()
    console_setup(work / "console", ferret.uri)
    from rtcc import retrieval
    from rtcc.models import Box, Camera, ClipJob

    pem = work / "console.pub.pem"
    pem.write_bytes(retrieval.console_key().public_pem)
    env = box_env(work / "box", ferret.uri, pem, args.chunk_kb)
    manage(env, "migrate")
    segments = args.minutes * 3 + 1
    out = manage(env, "shell", "-c", BOX_SETUP.format(minutes=args.minutes, segments=segments))
    text = out.stdout[out.stdout.index("BENCH ") :]
    first, box_pem = text.split("\n", 1)
    _, camera_id, start_text = first.split()
    from crimebox.keys import fingerprint_of, public_key_from_pem

    box = Box.objects.create(
        box_id="bench-box",
        enrolment=Box.Enrolment.ENROLLED,
        fingerprint=fingerprint_of(public_key_from_pem(box_pem)),
        public_key_pem=box_pem,
    )
    Camera.objects.create(box=box, camera_id=int(camera_id), name="North")
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", BOX_WORKER],
        env={**env, "CRIMEBOX_RTCC_URI": proxy.uri},
    )
    try:
        start = datetime.fromisoformat(start_text) + timedelta(seconds=1)
        t0 = time.monotonic()
        job = retrieval.request_clip(
            box_id="bench-box",
            camera="North",
            start=start,
            end=start + timedelta(minutes=args.minutes),
            case_number="BENCH-1",
            reason="benchmark",
            user="bench",
        )
        cuts_at = [0.3, 0.6]
        down = 0.0
        while True:
            retrieval.tick()
            job.refresh_from_db()
            if job.state not in ClipJob.OPEN:
                break
            if (
                cuts_at
                and job.chunks_total
                and job.chunks_received >= cuts_at[0] * job.chunks_total
            ):
                cuts_at.pop(0)
                proxy.cut(args.cut)
                down += args.cut
                print(
                    f"cut the link for {args.cut:g} s at chunk "
                    f"{job.chunks_received}/{job.chunks_total}"
                )
            if time.monotonic() - t0 > 1800:
                raise SystemExit("no result in 30 minutes")
            time.sleep(0.25)
        elapsed = time.monotonic() - t0
    finally:
        worker.terminate()
        worker.wait(30)
        proxy.stop()
    report(job, elapsed, down, args, work, proxy, ferret)
    ferret.stop()


def report(job, elapsed, down, args, work, proxy, ferret) -> None:
    import pymongo

    if job.state != "ready":
        raise SystemExit(f"job ended {job.state}: {job.problem or job.box_reason}")
    size = job.package_size
    ideal = size * 8 / (args.kbps * 1000)
    with sqlite3.connect(work / "box" / "crimebox.sqlite3") as db:
        sent, resumes, chunks = db.execute(
            "SELECT bytes_sent, resumes, chunks_total FROM sync_cliprequest"
        ).fetchone()
    left = pymongo.MongoClient(ferret.uri).rtcc.chunks.count_documents({})
    print(
        f"package {size / 1e6:.1f} MB in {chunks} chunks of {args.chunk_kb} KiB, "
        f"link {args.kbps} kbit/s"
    )
    print(f"request -> ready {elapsed:.1f} s; size / rate {ideal:.1f} s: {elapsed / ideal:.2f}x")
    print(f"  without the {down:g} s the link was down: {(elapsed - down) / ideal:.2f}x")
    print(
        f"re-sent after {proxy.cuts} cut(s): {(sent - size) / 1024:.0f} KiB by the box's count "
        f"({(sent - size) / max(proxy.cuts, 1) / 1024:.0f} KiB per cut; {resumes} resume(s)); "
        f"{proxy.up_bytes / 1e6:.1f} MB crossed the proxy upstream (protocol and "
        "replication included)"
    )
    print(f"chunks left at the datacenter after verification: {left}")
    print(f"verified package: {job.path}")


if __name__ == "__main__":
    main()
