"""Indexing closed files: what reaches the disk before the hash, what a file really holds,
whose second a moment is, and whether the media agrees with the wall clock."""

import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from recordings.evidence.manifest import segment_entry
from recordings.health import health_status
from recordings.index import index_segment, run_template, segment_dir
from recordings.models import Segment
from recordings.recovery import recover
from tests.factories import make_camera, make_media, make_segment

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def file_for(camera, start):
    return segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"


def run_file(camera, started, number):
    return run_template(camera, started).with_name(f"{started:%Y%m%dT%H%M%S}Z-{number:06d}.mp4")


def test_file_and_folder_reach_the_disk_before_the_hash_is_committed(monkeypatch):
    camera = make_camera()
    path = make_media(file_for(camera, T0), seconds=1)
    synced = []
    fsync = os.fsync

    def spy(fd):
        row_exists = Segment.objects.filter(camera=camera).exists()
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), row_exists))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    segment = index_segment(camera, path, start=T0)
    assert (str(path.resolve()), False) in synced
    assert (str(path.parent.resolve()), False) in synced
    assert segment.abs_path.stat().st_mode & 0o777 == 0o444  # closed: read-only


def header_only(path):
    """What a kill within ~1 s of a cut leaves: ftyp + moov, not one fragment (measured 885 B)."""
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: data.index(b"moof") - 4])
    return path


def test_a_header_only_file_is_recorded_as_no_media_not_as_footage():
    camera = make_camera()
    make_segment(camera, T0, seconds=2)
    empty = header_only(make_media(file_for(camera, T0 + timedelta(seconds=2)), seconds=2))
    assert empty.stat().st_size < 2000

    recover(T0 + timedelta(minutes=1))

    segment = Segment.objects.get(camera=camera, sequence=2)
    assert segment.status == Segment.Status.NO_MEDIA  # hashed and chained, but no footage
    assert segment.frames == 0 and segment.duration == 0 and "no media" in segment.note
    assert not segment.is_playable and not segment.is_on_disk


def test_no_second_is_claimed_by_two_segments_after_a_restart():
    camera = make_camera()
    first = make_segment(camera, T0, seconds=4)  # ends at T0 + 4 s
    # A restarted FFmpeg's first file holds ~2 s of media from before its name's second.
    later = make_media(file_for(camera, T0 + timedelta(seconds=6)), seconds=4)
    segment = index_segment(camera, later, start=T0 + timedelta(seconds=2, milliseconds=40))
    assert segment.start == first.end
    assert "moved 1.96 s later" in segment.note
    assert segment.end == T0 + timedelta(seconds=6, milliseconds=40)


def test_a_recovered_file_of_a_run_ends_at_its_last_write():
    camera = make_camera()
    started = T0 + timedelta(minutes=1)
    path = make_media(run_file(camera, started, 0), seconds=4)
    last_write = started + timedelta(seconds=6)  # connected and probed 2 s, then 4 s of media
    os.utime(path, (last_write.timestamp(), last_write.timestamp()))

    recover(T0 + timedelta(minutes=5))

    segment = Segment.objects.get(camera=camera)
    assert segment.status == Segment.Status.PARTIAL
    assert segment.end == last_write and segment.start == last_write - timedelta(seconds=4)


def lying_media(path, seconds=10):
    """A camera whose timestamps run 50 times too fast: 250 frames in 0.2 s of media."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi"]
        + ["-i", f"testsrc2=size=320x240:rate=25:duration={seconds}"]
        + ["-vf", "setpts=PTS/50", "-fps_mode", "passthrough", "-c:v", "libx264"]
        + ["-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"]
        + ["-movflags", "+frag_keyframe+empty_moov+default_base_moof", str(path)],
        check=True,
    )
    return path


def test_media_that_disagrees_with_the_wall_clock_says_so_everywhere():
    camera = make_camera()
    good = make_segment(camera, T0, seconds=4, wall_seconds=4.2)
    assert good.media_warning == "" and good.frames == 100
    path = lying_media(file_for(camera, T0 + timedelta(seconds=4)))

    segment = index_segment(camera, path, start=T0 + timedelta(seconds=4), wall_seconds=10.0)

    assert segment.frames == 250 and segment.duration < 0.5
    assert "took 10.0 s of wall time" in segment.media_warning
    assert "250 frames" in segment.media_warning
    assert segment_entry(segment)["media_warning"] == segment.media_warning  # manifests
    health = health_status()
    assert any("disagree" in w for w in health["warnings"])
