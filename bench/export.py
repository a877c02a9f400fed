#!/usr/bin/env python
"""Export benchmark: a 10-minute window spanning two segments, against `cat` of the same bytes.

    .venv/bin/python bench/export.py [--size 1280x720] [--segment-minutes 6]

Makes two fragmented-MP4 segments (FFmpeg test source, ~4 Mbit/s), exports minute 1 to 11 as a
signed package (fragment copy, hashing, zip, fsync), and prints its time divided by the time
`cat` takes to copy the two source files, with and without fsync, measured in the same run
(alternated, best of 5 each; each run's output replaces the previous one's, for cat and for
the export alike). Also one SHA-256 pass over the same bytes, and FFmpeg's stream copy of
the window (how clips were cut before recordings/evidence/fmp4.py), for scale.
"""

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def best_of(n, fn) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--segment-minutes", type=int, default=6)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="crimebox-bench-export-"))
    os.environ.update(
        CRIMEBOX_DATA_DIR=str(data),
        CRIMEBOX_ENV_FILE=os.devnull,
        DJANGO_SETTINGS_MODULE="crimebox.settings",
        CRIMEBOX_LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from cameras.models import Camera
    from recordings.evidence.export import run_export
    from recordings.index import index_segment, segment_dir
    from recordings.models import Export

    camera = Camera.objects.create(name="bench", source=Camera.Source.RTSP)
    t0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    seconds = args.segment_minutes * 60
    sources = []
    for i in range(2):
        start = t0 + timedelta(seconds=i * seconds)
        path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%SZ}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={args.size}:rate=25:duration={seconds}",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-b:v",
                "4M",
                "-g",
                "50",
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+frag_keyframe+empty_moov+default_base_moof",
                str(path),
            ],
            check=True,
        )
        index_segment(camera, path, start=start)
        sources.append(path)
    total = sum(p.stat().st_size for p in sources)
    out = data / "out"
    out.mkdir()

    def export_once():
        export = Export.objects.create(
            start=t0 + timedelta(minutes=1),
            end=t0 + timedelta(minutes=11),
            case_number="bench",
            reason="benchmark",
            hold_sources=False,
        )
        export.cameras.set([camera])
        result = run_export(export.pk, out_dir=out)
        assert Path(result).is_file(), result
        for old in packages:  # like cat's output, each run replaces the last one's:
            old.unlink(missing_ok=True)  # no dirty pages of earlier runs slow this one's writes
        packages[:] = [Path(result)]

    packages = []

    def cat_once(durable: bool):
        with open(out / "cat.bin", "wb") as f:
            subprocess.run(["cat", *map(str, sources)], stdout=f, check=True)
            if durable:  # like the export, which leaves its package on the disk
                os.fsync(f.fileno())

    def hash_once():  # one SHA-256 pass over the bytes: the package format needs two
        for path in sources:
            with open(path, "rb") as f:
                hashlib.file_digest(f, "sha256")

    from recordings import ffmpeg

    listing = data / "bench.ffconcat"
    listing.write_text(ffmpeg.concat_listing(sources, 60))

    def ffmpeg_once():  # what the export cost when FFmpeg cut every clip, to /dev/null
        argv = ffmpeg.clip_argv(listing, 600)
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)

    # Alternated, best of 5 each: on a shared machine the load drifts between runs.
    runs: dict[str, list[float]] = {}
    cpu: list[float] = []
    steps = {"cat": lambda: cat_once(False), "cat_sync": lambda: cat_once(True),
             "export": export_once, "ffmpeg": ffmpeg_once, "sha": hash_once}  # fmt: skip
    for _ in range(5):
        for name, step in steps.items():
            before = resource.getrusage(resource.RUSAGE_SELF)
            runs.setdefault(name, []).append(best_of(1, step))
            after = resource.getrusage(resource.RUSAGE_SELF)
            if name == "export":
                cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    t = {name: min(times) for name, times in runs.items()}
    print(f"sources: 2 segments, {total / 1e6:.0f} MB; window: 10 min spanning both")
    print(f"cat of the source bytes, into the page cache: {t['cat']:.3f} s")
    print(f"cat and fsync (the bytes on the disk, as an export leaves them): {t['cat_sync']:.3f} s")
    print(f"one SHA-256 pass over the bytes (the package needs two: clip, zip): {t['sha']:.3f} s")
    print(f"FFmpeg stream copy of the window alone, to /dev/null: {t['ffmpeg']:.3f} s")
    print(
        f"export (fragment copy + 2 SHA-256 + CRC-32 + zip + sign + fsync): {t['export']:.3f} s, "
        f"{min(cpu):.3f} s of CPU on {os.cpu_count()} cores"
    )
    print(f"ratio export / (cat + fsync): {t['export'] / t['cat_sync']:.2f}")
    print(f"ratio export / cat: {t['export'] / t['cat']:.2f}")
    print(f"ratio export / FFmpeg alone: {t['export'] / t['ffmpeg']:.2f}")
    print(clip_report(packages[-1], data))


def clip_report(package: Path, work: Path) -> str:
    """What the clip really holds (edit lists ignored) against what its manifest states."""
    import json
    import zipfile

    from crimebox import ffprobe

    with zipfile.ZipFile(package) as z:
        names = z.namelist()
        clip = json.loads(z.read(next(n for n in names if n.endswith("manifest.json"))))["clips"][0]
        path = work / "clip.mp4"
        path.write_bytes(z.read(next(n for n in names if n.endswith("clip.mp4"))))
    first, after = ffprobe.held_interval(path)
    return (
        f"clip holds {after - first:.3f} s of frames from {first:.3f} s (-ignore_editlist 1); "
        f"manifest: {clip['duration']:.3f} s from {clip['start']} "
        f"(window from {clip['window_start']}, pre-roll {clip['pre_roll']:.3f} s)"
    )


if __name__ == "__main__":
    main()
