"""An exported clip holds only its window, checked with real FFmpeg segments.

Tools that ignore MP4 edit lists (ffprobe -ignore_editlist 1, many forensic players) must see
exactly the frames the manifest states: from the keyframe at or before the window's start.
"""

import hashlib
import json
import math
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.factories import make_camera, make_segment
from tests.recordings.test_export import export, replaced, unzip, verify

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
FPS = 25


def packets(path: Path) -> list[tuple[float, bool]]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-ignore_editlist",
            "1",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time,flags",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split(",") for line in out.split()]
    return sorted((float(t), "K" in flags) for t, flags in rows)


def gray_frame(path: Path, at: float | None = None) -> bytes:
    seek = ["-ss", f"{at:.3f}"] if at is not None else []
    return subprocess.run(
        ["ffmpeg", "-v", "error", *seek, "-i", str(path), "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    ).stdout


@pytest.mark.parametrize(
    "gop,offset,length",
    [
        (25, 0.0, 3.0),  # window at the start of a segment, on a keyframe
        (25, 2.5, 7.0),  # half a GOP into segment 1, across into segment 2
        (50, 3.3, 2.0),  # 2 s GOP, inside one GOP
        (100, 5.96, 4.0),  # 4 s GOP: 1.96 s of pre-roll, across the boundary
        (100, 9.0, 3.0),  # in segment 2 only: its own keyframe at 8 s
    ],
)
def test_clip_holds_only_its_window(db, tmp_path, gop, offset, length):
    camera = make_camera("North")
    segments = [make_segment(camera, T0 + timedelta(seconds=8 * i), 8, gop=gop) for i in (0, 1)]
    start = T0 + timedelta(seconds=offset)
    end = start + timedelta(seconds=length)
    package = export(tmp_path, start, end)
    folder = unzip(package, tmp_path / "x")
    [clip] = json.loads((folder / "manifest.json").read_bytes())["clips"]

    # The keyframe at or before the start: every segment restarts its GOPs at its first frame.
    seg_offset = 8 * (offset // 8)
    gop_s = gop / FPS
    key = seg_offset + math.floor((offset - seg_offset) / gop_s + 1e-9) * gop_s
    frames = packets(folder / "clip.mp4")
    assert frames[0] == (0.0, True)  # starts on a keyframe, nothing before it
    assert len(frames) == pytest.approx((offset + length - key) * FPS, abs=1)
    assert clip["start"] == (T0 + timedelta(seconds=key)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert clip["window_start"] == start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert clip["pre_roll"] == pytest.approx(offset - key, abs=1e-3)
    assert clip["duration"] == pytest.approx(offset + length - key, abs=1e-3)
    # The first frame of the clip is the source's keyframe, not an earlier picture.
    source = segments[int(offset // 8)]
    assert gray_frame(folder / "clip.mp4") == gray_frame(source.abs_path, key - seg_offset)
    assert verify(package) == 0


def test_verify_evidence_refuses_a_clip_holding_more_than_its_window(db, tmp_path, capsys):
    """A clip like the ones cut before the fix: frames before the window hidden by an edit
    list. Even correctly signed (here by another key), verify_evidence names it."""
    camera = make_camera("North")
    segment = make_segment(camera, T0, 8)
    package = export(tmp_path, T0 + timedelta(seconds=6), T0 + timedelta(seconds=7))
    hidden, listing = tmp_path / "hidden.mp4", tmp_path / "list.ffconcat"
    listing.write_text(f"ffconcat version 1.0\nfile '{segment.abs_path}'\n")
    subprocess.run(  # the argv cut_clip used before the fix
        ["ffmpeg", "-v", "error", "-ss", "6", "-f", "concat", "-safe", "0", "-i", str(listing)]
        + ["-t", "1", "-c", "copy", str(hidden)],
        check=True,
    )
    assert packets(hidden)[-1][0] > 5  # the file holds ~7 s of frames for a 1 s window
    with zipfile.ZipFile(package) as z:
        manifest = json.loads(next(z.read(n) for n in z.namelist() if n.endswith("manifest.json")))
    data = hidden.read_bytes()
    manifest["files"]["clip.mp4"] = hashlib.sha256(data).hexdigest()
    capsys.readouterr()
    assert verify(replaced(package, tmp_path, clip_mp4=data, **resigned(manifest))) == 1
    out = capsys.readouterr().out
    assert "clip.mp4: holds" in out and "the manifest states 1.00 s" in out


def resigned(manifest: dict) -> dict:
    """manifest.json, its signature and the public key of a fresh key that signed it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crimebox.keys import fingerprint_of

    key = Ed25519PrivateKey.generate()
    manifest = {**manifest, "signing_key_fingerprint": fingerprint_of(key.public_key())}
    data = json.dumps(manifest).encode()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"manifest_json": data, "manifest_sig": key.sign(data), "box_public_key_pem": pem}
