import json
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from crimebox import ffprobe
from recordings.evidence import fmp4
from recordings.index import open_segment, segment_dir
from recordings.models import Export, Gap, Segment
from tests.factories import make_camera, make_media, make_segments

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def footage(db):
    """Camera North: 3 x 4 s from T0 (contiguous), a 4 s gap, then 2 x 4 s."""
    camera = make_camera(
        "North", location="Main St & 3rd", manufacturer="Acme", model="X1", serial_number="SN1"
    )
    first = make_segments(camera, T0, 3, seconds=4)
    Gap.objects.create(
        camera=camera,
        start=T0 + timedelta(seconds=12),
        end=T0 + timedelta(seconds=16),
        cause=Gap.Cause.CAMERA_UNREACHABLE,
        detail="Connection refused",
    )
    second = make_segments(camera, T0 + timedelta(seconds=16), 2, seconds=4)
    return camera, first + second


def export(tmp_path, start, end, *extra):
    from io import StringIO

    out = StringIO()
    call_command(
        "export_clip",
        "--camera",
        "North",
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        "--case",
        "26-004512",
        "--reason",
        "hit and run",
        "--out",
        str(tmp_path),
        *extra,
        stdout=out,
    )
    path = Path(out.getvalue().strip())
    assert path.is_file() and path.parent == tmp_path
    return path


def unzip(path: Path, into: Path) -> Path:
    with zipfile.ZipFile(path) as z:
        z.extractall(into)
    return next(into.iterdir())


def frame_times(path: Path) -> list[float]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [float(line.split(",")[0]) for line in out.split()]


def verify(path):
    try:
        call_command("verify_evidence", str(path))
    except SystemExit as e:
        return e.code
    return 0


def test_window_across_a_segment_boundary(footage, tmp_path):
    start, end = T0 + timedelta(seconds=2.5), T0 + timedelta(seconds=9.5)
    package = export(tmp_path, start, end)
    folder = unzip(package, tmp_path / "x")
    manifest = json.loads((folder / "manifest.json").read_bytes())
    [clip] = manifest["clips"]
    assert clip["file"] == "clip.mp4"
    # Stream copy starts on the keyframe before the window (1 s GOPs): 0.5 s of pre-roll.
    assert clip["duration"] == pytest.approx(7.5, abs=0.001)
    times = frame_times(folder / "clip.mp4")
    # 25 fps source: frames from 2.0 s to 9.46 s of the footage, nothing more, nothing less.
    assert len(times) == pytest.approx(187.5, abs=1)
    assert clip["start"] == "2026-11-23T14:00:02.000000Z"
    assert clip["window_start"] == "2026-11-23T14:00:02.500000Z"
    assert clip["pre_roll"] == 0.5
    assert [s["sequence"] for s in manifest["source_segments"]] == [1, 2, 3]
    assert [s["clock_synchronized"] for s in manifest["source_segments"]] == [
        s.clock_synced for s in Segment.objects.filter(sequence__in=[1, 2, 3]).order_by("sequence")
    ]
    assert manifest["requested_window"] == {
        "start": "2026-11-23T14:00:02.500000Z",
        "end": "2026-11-23T14:00:09.500000Z",
    }
    assert manifest["cameras"][0]["serial_number"] == "SN1"
    assert clip["method"] == "fragment copy"  # tests/recordings/test_fmp4.py
    assert verify(package) == 0
    # The source footage is now on legal hold, and the export was audited.
    assert set(Segment.objects.filter(on_hold=True).values_list("sequence", flat=True)) == {1, 2, 3}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == 1


def test_manifest_carries_the_cameras_history(footage, tmp_path):
    from audit import log

    camera, _ = footage
    log.record(
        AuditEvent.Action.CAMERA_CHANGE,
        camera=camera,
        target=f"camera {camera.pk}",
        username="cli",
        detail={"changed": {"firmware_version": ["1.0", "1.1"]}},
    )
    package = export(tmp_path, T0, T0 + timedelta(seconds=2))
    manifest = json.loads((unzip(package, tmp_path / "x") / "manifest.json").read_bytes())
    [change] = [e for e in manifest["audit_events"] if e["action"] == "camera_change"]
    assert change["detail"]["changed"]["firmware_version"] == ["1.0", "1.1"]


def test_first_frame_matches_the_source(footage, tmp_path):
    camera, segs = footage
    package = export(tmp_path, T0 + timedelta(seconds=5), T0 + timedelta(seconds=6))
    folder = unzip(package, tmp_path / "x")

    # Compare the first decoded frame of the clip with the source frame at 1.0 s of segment 2.
    def frame(path, ss=None):
        args = (
            ["ffmpeg", "-v", "error"]
            + (["-ss", ss] if ss else [])
            + ["-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"]
        )
        return subprocess.run(args, capture_output=True, check=True).stdout

    assert frame(folder / "clip.mp4") == frame(segs[1].abs_path, "1.0")
    assert frame(folder / "clip.mp4") != frame(segs[1].abs_path, "1.2")


def test_window_across_a_gap_gives_two_clips_and_names_the_gap(footage, tmp_path):
    package = export(
        tmp_path, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20), "--include-originals"
    )
    folder = unzip(package, tmp_path / "x")
    manifest = json.loads((folder / "manifest.json").read_bytes())
    assert [(c["start"], round(c["duration"], 1)) for c in manifest["clips"]] == [
        ("2026-11-23T14:00:10.000000Z", 2.0),
        ("2026-11-23T14:00:16.000000Z", 4.0),
    ]
    assert [g["cause"] for g in manifest["gaps"]] == ["unreachable"]
    assert sorted(p.name for p in (folder / "originals").iterdir()) == [
        "cam0001-20261123T140008Z.mp4",
        "cam0001-20261123T140016Z.mp4",
    ]
    assert verify(package) == 0


def test_package_verifies_with_openssl_and_sha256sum(footage, tmp_path):
    package = export(
        tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=5), "--include-originals"
    )
    folder = unzip(package, tmp_path / "x")
    text = (folder / "VERIFY.txt").read_text()
    assert "openssl pkeyutl -verify -pubin -inkey box_public_key.pem -rawin" in text
    assert "902(14)" in text
    openssl = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "box_public_key.pem",
            "-rawin",
            "-in",
            "manifest.json",
            "-sigfile",
            "manifest.sig",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert openssl.returncode == 0 and "Signature Verified Successfully" in openssl.stdout
    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True
    )
    assert sums.returncode == 0 and "clip.mp4: OK" in sums.stdout
    fingerprint = subprocess.run(
        "openssl pkey -pubin -in box_public_key.pem -outform DER | tail -c 32 | sha256sum",
        shell=True,
        cwd=folder,
        capture_output=True,
        text=True,
    ).stdout.split()[0]
    assert (
        fingerprint == json.loads((folder / "manifest.json").read_text())["signing_key_fingerprint"]
    )

    # One changed byte of the manifest: openssl and verify_evidence both refuse it.
    data = bytearray((folder / "manifest.json").read_bytes())
    data[10] ^= 1
    (folder / "manifest.json").write_bytes(bytes(data))
    openssl = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "box_public_key.pem",
            "-rawin",
            "-in",
            "manifest.json",
            "-sigfile",
            "manifest.sig",
        ],
        cwd=folder,
        capture_output=True,
    )
    assert openssl.returncode != 0


def tampered(package: Path, member_suffix: str, tmp_path: Path) -> Path:
    out = tmp_path / f"tampered-{member_suffix.replace('/', '_')}.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(member_suffix):
                data = bytearray(data)
                data[len(data) // 2] ^= 1
                data = bytes(data)
            dst.writestr(info, data)
    return out


@pytest.mark.parametrize(
    "member", ["clip.mp4", "manifest.json", "originals/cam0001-20261123T140004Z.mp4"]
)
def test_one_changed_byte_fails_verification(footage, tmp_path, member, capsys):
    package = export(
        tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=5), "--include-originals"
    )
    assert verify(tampered(package, member, tmp_path)) == 1
    assert "FAILED" in capsys.readouterr().out


def replaced(package: Path, tmp_path: Path, **members: bytes) -> Path:
    """A copy of the package with some members' bytes replaced (names with . as _)."""
    out = tmp_path / "replaced.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            key = Path(info.filename).name.replace(".", "_")
            dst.writestr(info, members.get(key, src.read(info)))
    return out


def forged_signature(data: bytes) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"manifest_json": data, "manifest_sig": key.sign(data), "box_public_key_pem": pem}


@pytest.mark.parametrize(
    "members,message",
    [
        ({"manifest_json": b"{not json"}, "not valid JSON"),
        ({"manifest_json": b"\xff\xfe"}, "not valid JSON"),
        (
            {"box_public_key_pem": b"-----BEGIN PUBLIC KEY-----\ngarbage"},
            "not a readable public key",
        ),
        (forged_signature(b"[]"), "not a JSON object"),
        (forged_signature(b'{"files": {}, "source_segments": [{"camera_id": 1}]}'), "malformed"),
    ],
)
def test_damaged_or_forged_packages_fail_cleanly(footage, tmp_path, capsys, members, message):
    package = export(tmp_path, T0, T0 + timedelta(seconds=2))
    capsys.readouterr()
    assert verify(replaced(package, tmp_path, **members)) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and message in out


@pytest.mark.parametrize(
    "start,end,message",
    [
        ("2026-11-23T14:00:09Z", "2026-11-23T14:00:02Z", "must be after its start"),
        ("2026-11-23T15:00:00Z", "2026-11-23T15:05:00Z", "no footage"),
        ("yesterday", "2026-11-23T15:05:00Z", "not an ISO 8601 time"),
        ("2026-11-23T14:00:00", "2026-11-23T14:00:05Z", "no time zone"),
    ],
)
def test_bad_windows_write_nothing(footage, tmp_path, start, end, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "export_clip",
            "--camera",
            "North",
            "--start",
            start,
            "--end",
            end,
            "--case",
            "1",
            "--reason",
            "r",
            "--out",
            str(tmp_path / "out"),
        )
    assert not (tmp_path / "out").exists()
    assert not Export.objects.exists()


def test_unknown_camera_and_deleted_footage(footage, tmp_path):
    with pytest.raises(CommandError, match="no camera named 'South'"):
        call_command(
            "export_clip",
            "--camera",
            "South",
            "--start",
            "2026-11-23T14:00:00Z",
            "--end",
            "2026-11-23T14:00:05Z",
            "--case",
            "1",
            "--reason",
            "r",
            "--out",
            str(tmp_path / "out"),
        )
    Segment.objects.update(status=Segment.Status.DELETED)
    with pytest.raises(CommandError, match="no longer on the box"):
        call_command(
            "export_clip",
            "--camera",
            "North",
            "--start",
            "2026-11-23T14:00:00Z",
            "--end",
            "2026-11-23T14:00:05Z",
            "--case",
            "1",
            "--reason",
            "r",
            "--out",
            str(tmp_path / "out"),
        )
    assert not (tmp_path / "out").exists()


def test_window_reaching_into_the_segment_being_recorded_is_exported(footage, tmp_path):
    """Up to its last complete fragment, with the byte range it relied on (the
    real-FFmpeg case is tests/recordings/test_export_recording.py)."""
    camera, segs = footage
    start = segs[-1].end
    path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"
    open_segment(camera, make_media(path, 2))
    package = export(tmp_path, T0 + timedelta(seconds=18), T0 + timedelta(seconds=26))
    with zipfile.ZipFile(package) as z:
        manifest = json.loads(next(z.read(n) for n in z.namelist() if n.endswith("manifest.json")))
    opened = [s for s in manifest["source_segments"] if s["status"] == "recording"]
    last = fmp4.read_movie(path).fragments[-1]
    assert [s["recorded_prefix"]["end_byte"] for s in opened] == [last.end]  # not the mfra
    assert manifest["clips"][0]["end"] == "2026-11-23T14:00:26.000000Z"
    assert verify(package) == 0


def test_segment_records_whether_the_clock_was_synchronised(db, monkeypatch):
    camera = make_camera("Clock")
    for synced in (True, False, None):
        monkeypatch.setattr("recordings.index.clock_synchronized", lambda s=synced: s)
        start = T0 + timedelta(minutes=len(camera.segments.all()))
        [segment] = make_segments(camera, start, 1, seconds=1)
        assert segment.clock_synced is synced


def test_export_never_takes_the_space_recording_needs(footage, tmp_path, monkeypatch, settings):
    from collections import namedtuple

    Usage = namedtuple("Usage", "total used free")
    settings.MIN_FREE_GB, settings.MIN_FREE_PERCENT = 1, 0
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(
        "recordings.evidence.plan.shutil.disk_usage",
        lambda p: Usage(10**11, 10**11 - 10**9 - 50_000, 10**9 + 50_000),
    )
    with pytest.raises(CommandError, match="Not enough free space"):
        call_command(
            "export_clip",
            "--camera",
            "North",
            "--start",
            "2026-11-23T14:00:00Z",
            "--end",
            "2026-11-23T14:00:08Z",
            "--case",
            "1",
            "--reason",
            "r",
            "--out",
            str(out),
        )
    assert list(out.iterdir()) == []
    assert Export.objects.get().status == Export.Status.FAILED


def packet_hashes(path: Path) -> list[tuple[bool, str]]:
    """(keyframe?, MD5 of the bytes as stored) of each video packet, nothing decoded."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_data_hash", "MD5"]
        + ["-show_entries", "packet=flags,data_hash", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [(flags.startswith("K"), md5) for flags, md5 in (ln.split(",") for ln in out.split())]


def test_clip_is_stream_copy(footage, tmp_path):
    _, segs = footage
    package = export(tmp_path, T0 + timedelta(seconds=2), T0 + timedelta(seconds=6))
    folder = unzip(package, tmp_path / "x")
    assert ffprobe.probe(folder / "clip.mp4").codec == segs[0].codec
    # The packets of the clip are the source's bytes, in order, across the segment boundary;
    # a re-encode (same codec, same size) gives other bytes. Keyframes are compared by place
    # only: the MP4 muxer puts the parameter sets (SPS/PPS) in front of them.
    clip = packet_hashes(folder / "clip.mp4")
    source = packet_hashes(segs[0].abs_path) + packet_hashes(segs[1].abs_path)
    start = 2 * 25  # the keyframe at 2.0 s (one a second), the window's start
    assert len(clip) >= 4 * 25 and clip[0][0] and source[start][0]
    for (clip_key, clip_md5), (key, md5) in zip(clip, source[start:], strict=False):
        assert clip_key == key and (key or clip_md5 == md5)
    assert sum(not key for key, _ in clip) >= 4 * 24
