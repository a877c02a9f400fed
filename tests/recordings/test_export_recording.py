"""Footage still being recorded can be exported up to the last complete fragment; the
manifest states the open file's byte range and its SHA-256, which the closed segment later
proves. Before: refused until the segment closed ("hashed when its segment
closes at about ..."), and the player's "Export this" pre-filled exactly such a window.
"""

import hashlib
import json
import signal
import subprocess
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from recordings import ffmpeg
from recordings.evidence import fmp4
from recordings.index import index_segment, open_segment, segment_dir
from recordings.models import Export, PrefixCheck, Segment
from sync.models import OutboxItem
from tests.factories import make_camera, make_media
from tests.helpers import wait_for


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_evidence", *args, stdout=out)
    except SystemExit as e:
        return int(e.code or 0), out.getvalue()
    return 0, out.getvalue()


def complete_fragments(path: Path) -> int:
    try:
        return len(fmp4.read_movie(path, still_open=True).fragments)
    except (fmp4.Unsupported, FileNotFoundError):
        return 0


def test_an_open_file_is_read_up_to_its_last_complete_fragment(tmp_path):
    whole = make_media(tmp_path / "whole.mp4", 4, fps=10)  # 1 s fragments
    movie = fmp4.read_movie(whole)
    data = whole.read_bytes()
    for fragment in movie.fragments:
        for cut in (fragment.offset + 3, fragment.offset + len(fragment.moof) + 12, fragment.end):
            (tmp_path / "open.mp4").write_bytes(data[:cut])
            complete = [f for f in movie.fragments if f.end <= cut]
            if not complete:
                with pytest.raises(fmp4.Unsupported, match="no complete fragments"):
                    fmp4.read_movie(tmp_path / "open.mp4", still_open=True)
                continue
            part = fmp4.read_movie(tmp_path / "open.mp4", still_open=True)
            assert len(part.fragments) == len(complete)
            assert part.complete_end == complete[-1].end
    (tmp_path / "open.mp4").write_bytes(data[: movie.fragments[-1].end - 5])
    with pytest.raises(fmp4.Unsupported):  # a closed segment cut short is still refused
        fmp4.read_movie(tmp_path / "open.mp4")


@pytest.fixture
def recording(db):
    """A real FFmpeg writing the recorder's fragmented MP4 (the test-pattern camera's argv)."""
    camera = make_camera("North")
    start = timezone.now()
    folder = segment_dir(camera, start)
    folder.mkdir(parents=True, exist_ok=True)
    argv = ffmpeg.test_pattern_argv(
        str(folder / f"{start:%Y%m%dT%H%M%S}Z-%06d.mp4"), segment_seconds=86400, fps=10
    )
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    path = folder / f"{start:%Y%m%dT%H%M%S}Z-000000.mp4"
    try:
        wait_for(path.exists, timeout=30, what="FFmpeg's file")
        open_segment(camera, path, start)
        yield camera, start, path, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_footage_still_being_recorded_is_exported_and_proved_at_close(recording, tmp_path):
    camera, start, path, proc = recording
    wait_for(lambda: complete_fragments(path) >= 3, timeout=60, what="three fragments")
    end = timezone.now()
    out = StringIO()
    call_command(
        "export_clip",
        *("--camera", "North", "--start", start.isoformat(), "--end", end.isoformat()),
        *("--case", "26-1", "--reason", "just happened", "--out", str(tmp_path)),
        "--include-originals",
        stdout=out,
    )
    package = Path(out.getvalue().strip())
    assert Export.objects.get().status == Export.Status.DONE
    assert Segment.objects.get().status == Segment.Status.RECORDING  # still open
    with zipfile.ZipFile(package) as z:
        manifest = json.loads(next(z.read(n) for n in z.namelist() if n.endswith("manifest.json")))
        [part] = [n for n in z.namelist() if n.endswith(".part")]
        part_bytes = z.read(part)
    [source] = manifest["source_segments"]
    [clip] = manifest["clips"]
    prefix = source["recorded_prefix"]
    assert source["status"] == "recording" and source["sequence"] is None
    assert prefix["first_byte"] == 0 and prefix["end_byte"] == len(part_bytes)
    assert hashlib.sha256(part_bytes).hexdigest() == prefix["sha256"]
    assert clip["method"] == "fragment copy" and clip["duration"] >= 2.5
    assert max(r["end_byte"] for r in clip["source_ranges"]) <= prefix["end_byte"]
    code, text = verify(str(package))
    assert code == 0 and "NOTE    North" in text and "package verified" in text

    # The segment closes (FFmpeg stops as the recorder stops it) and is hashed and chained:
    # its first bytes are exactly the ones exported.
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    closed = path.read_bytes()
    assert len(closed) > prefix["end_byte"]
    assert hashlib.sha256(closed[: prefix["end_byte"]]).hexdigest() == prefix["sha256"]
    segment = index_segment(camera, path, start=start)
    assert segment.status == Segment.Status.COMPLETE and segment.sequence == 1
    # ...and the box says so to the datacenter (signed, through the outbox).
    check = PrefixCheck.objects.get()
    assert check.result == PrefixCheck.Result.OK and check.sha256 == prefix["sha256"]
    assert OutboxItem.objects.filter(kind="prefix_check").count() == 1
    code, text = verify(str(package), "--recordings", str(settings.RECORDINGS_DIR))
    assert code == 0, text
    assert f"OK      North {path.name}: the {prefix['end_byte']} bytes exported" in text

    damaged = bytearray(closed)
    damaged[prefix["end_byte"] // 2] ^= 1
    path.write_bytes(bytes(damaged))
    code, text = verify(str(package), "--recordings", str(settings.RECORDINGS_DIR))
    assert code == 1 and "are not the ones exported" in text
