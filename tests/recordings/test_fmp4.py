"""Clips spliced from the recorded fragments (recordings/evidence/fmp4.py), and the files
it leaves to FFmpeg, with real FFmpeg-made segments and ffprobe reading the result."""

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recordings.evidence import fmp4
from recordings.index import index_segment, segment_dir
from tests.factories import make_camera, make_media, make_segments
from tests.recordings.test_clip_window import packets
from tests.recordings.test_export import export, packet_hashes, unzip, verify

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
FRAGMENTED = ["-movflags", "+frag_keyframe+empty_moov+default_base_moof"]


def ffmpeg_media(path: Path, *args: str, seconds: float = 4) -> Path:
    """A fragmented MP4 like the recorder's, with extra FFmpeg options (audio, B-frames)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size=320x240:rate=25:duration={seconds}", *args, "-g", "25",
         "-pix_fmt", "yuv420p", *FRAGMENTED, str(path)],
        check=True,
    )  # fmt: skip
    return path


def read_mdats(path: Path) -> bytes:
    movie = fmp4.read_movie(path)
    with path.open("rb") as f:
        out = b""
        for fr in movie.fragments:
            f.seek(fr.offset + len(fr.moof) + fr.mdat_header)
            out += f.read(fr.mdat_size)
    return out


def test_clip_is_the_recorded_fragments(db, tmp_path):
    """The clip's media data is the recordings' bytes at the ranges the manifest names; its
    last fragment is cut after the window's last frame, and it decodes without an error."""
    camera = make_camera("North")
    segments = make_segments(camera, T0, 3, seconds=4)
    start, end = T0 + timedelta(seconds=2.5), T0 + timedelta(seconds=9.3)
    package = export(tmp_path, start, end)
    folder = unzip(package, tmp_path / "x")
    [clip] = json.loads((folder / "manifest.json").read_bytes())["clips"]
    assert clip["method"] == "fragment copy" and "ffmpeg_argv" not in clip
    by_id = {s.pk: s for s in segments}
    in_ranges = b""  # the media data of the recorded fragments the manifest names
    for r in clip["source_ranges"]:
        path = by_id[r["segment"]].abs_path
        for fr in fmp4.read_movie(path).fragments:
            if r["first_byte"] <= fr.offset < r["end_byte"]:
                data_at = fr.offset + len(fr.moof) + fr.mdat_header
                with path.open("rb") as f:
                    f.seek(data_at)
                    in_ranges += f.read(min(fr.mdat_size, r["end_byte"] - data_at))
    assert [r["segment"] for r in clip["source_ranges"]] == [s.pk for s in segments]
    assert clip["source_ranges"][0]["first_byte"] > 0  # not from the first segment's start
    assert read_mdats(folder / "clip.mp4") == in_ranges
    frames = packets(folder / "clip.mp4")
    assert frames[0] == (0.0, True)
    assert len(frames) == round((9.3 - 2.0) * 25 + 0.5)  # frames at 2.00 .. 9.28 s
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(folder / "clip.mp4"), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert decoded.stderr == ""
    assert verify(package) == 0


def test_every_packet_keyframes_too_is_the_recorded_one(db, tmp_path):
    camera = make_camera("North")
    segments = make_segments(camera, T0, 2, seconds=4)
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=7))
    clip = packet_hashes(unzip(package, tmp_path / "x") / "clip.mp4")
    source = packet_hashes(segments[0].abs_path) + packet_hashes(segments[1].abs_path)
    assert clip == source[25 : 25 + len(clip)] and len(clip) == 6 * 25


def segment_with(camera, start: datetime, *args: str):
    path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"
    ffmpeg_media(path, *args)
    return index_segment(camera, path, start=start)


AUDIO = ["-f", "lavfi", "-i", "sine=duration=4", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "aac", "-shortest"]  # fmt: skip
BFRAMES = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "2"]


@pytest.mark.parametrize(
    "args, reason",
    [(AUDIO, "2 tracks"), (BFRAMES, "composition offsets")],
    ids=["audio", "b-frames"],
)
def test_files_it_does_not_splice_are_cut_by_ffmpeg(db, tmp_path, args, reason):
    camera = make_camera("North")
    for i in range(2):
        segment_with(camera, T0 + timedelta(seconds=4 * i), *args)
    package = export(tmp_path, T0 + timedelta(seconds=1.5), T0 + timedelta(seconds=6))
    folder = unzip(package, tmp_path / "x")
    [clip] = json.loads((folder / "manifest.json").read_bytes())["clips"]
    assert clip["method"] == "ffmpeg stream copy"
    assert reason in clip["fragment_copy_refused"]
    assert "-c" in clip["ffmpeg_argv"] and "copy" in clip["ffmpeg_argv"]
    first_time, is_key = packets(folder / "clip.mp4")[0]
    assert is_key and first_time <= 2 / 25  # B-frames: the first shown 2 frames after 0
    assert 0 <= clip["pre_roll"] < 1  # 1 s GOPs (AAC priming moves the video a little)
    assert verify(package) == 0


def test_refused_before_anything_is_written(tmp_path):
    """Cut short, other codec settings, nothing recorded: Unsupported, and the sink has not
    been called, so the FFmpeg fallback starts on an empty clip."""
    whole = make_media(tmp_path / "a.mp4", 4)
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) - 1000])
    bigger = make_media(tmp_path / "b.mp4", 4, size="640x480")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(data[:500])
    written: list[bytes] = []
    for paths, reason in (
        ([cut], "cut short"),
        ([whole, bigger], "other codec settings"),
        ([empty], "no complete fragments|ends inside|runs past"),
    ):
        with pytest.raises(fmp4.Unsupported, match=reason):
            fmp4.splice(paths, 1.0, 3.0, written.append)
    assert written == []


def test_window_start_on_each_keyframe_and_between(tmp_path):
    path = make_media(tmp_path / "a.mp4", 8, gop=50)  # keyframes at 0, 2, 4, 6 s
    for offset, key in ((0, 0), (1.99, 0), (2.0, 2), (5.5, 4), (7.9, 6)):
        out: list[bytes] = []
        spliced = fmp4.splice([path], offset, 8, out.append)
        assert spliced.start == key
        assert spliced.duration == pytest.approx(8 - key)
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(b"".join(out))
        assert len(packets(clip)) == (8 - key) * 25


def test_package_reaches_the_disk_before_the_export_is_done(db, tmp_path, monkeypatch):
    """A power cut after the export is marked done must not lose the package."""
    import os

    from recordings.models import Export

    camera = make_camera("North")
    make_segments(camera, T0, 1, seconds=4)
    synced = []
    fsync = os.fsync

    def spy(fd):
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), Export.objects.get().status))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2))
    assert (str(package.resolve()), Export.Status.RUNNING) in synced
    assert (str(tmp_path.resolve()), Export.Status.RUNNING) in synced


def test_disk_full_during_the_copy_fails_the_export_and_leaves_nothing(db, tmp_path, monkeypatch):
    """A real (tiny) disk fills up while the clip is written: a clear failure, no file left,
    the recordings untouched. Needs root to mount a tmpfs (CI runs as root)."""
    import os

    from recordings.evidence.export import run_export
    from recordings.models import Export

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    camera = make_camera("North")
    [segment] = make_segments(camera, T0, 1, seconds=8)
    before = segment.abs_path.read_bytes()
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(tiny)], check=True)
    try:
        # The space check would refuse this export up front; here the disk fills meanwhile.
        monkeypatch.setattr("recordings.evidence.package.check_space", lambda *a: None)
        export = Export.objects.create(start=T0, end=T0 + timedelta(seconds=7), case_number="1")
        export.cameras.set([camera])
        assert run_export(export.pk, out_dir=tiny).startswith("failed: ")
        export.refresh_from_db()
        assert export.status == Export.Status.FAILED
        assert "No space left on device" in export.error
        assert list(tiny.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(tiny)], check=False)
    assert segment.abs_path.read_bytes() == before
