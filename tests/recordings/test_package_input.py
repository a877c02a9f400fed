"""Every file of a package is covered by the signed manifest, VERIFY.txt's steps work as
written, and case numbers / reasons with control characters or too long are refused
everywhere, VERIFY.txt included."""

import re
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from recordings.holds import HoldError, place_hold, release_hold
from recordings.models import Export, LegalHold
from tests.factories import make_camera, make_segments
from tests.recordings.test_export import export, unzip, verify

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def footage(db):
    camera = make_camera("North")
    return camera, make_segments(camera, T0, 2, seconds=4)


def with_member(package: Path, tmp_path: Path, name: str, change) -> Path:
    """A copy of the package with member `name` changed by `change(bytes) -> bytes` (or added)."""
    out = tmp_path / "changed.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        folder = src.namelist()[0].split("/")[0]
        found = False
        for info in src.infolist():
            data = src.read(info)
            if info.filename == f"{folder}/{name}":
                data, found = change(data), True
            dst.writestr(info.filename, data)
        if not found:
            dst.writestr(f"{folder}/{name}", change(b""))
    return out


def test_verify_txt_is_covered_by_the_signature(footage, tmp_path, capsys):
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    folder = unzip(package, tmp_path / "x")
    text = (folder / "VERIFY.txt").read_text()
    fingerprint = re.search(r"fingerprint is:\s+([0-9a-f]{64})", text).group(1)
    forged = with_member(
        package, tmp_path, "VERIFY.txt", lambda d: d.replace(fingerprint.encode(), b"0" * 64)
    )
    capsys.readouterr()
    assert verify(forged) == 1
    assert "VERIFY.txt: SHA-256 does not match the manifest" in capsys.readouterr().out
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True)
    assert sums.returncode == 0 and b"VERIFY.txt: OK" in sums.stdout
    assert b"box_public_key.pem: OK" in sums.stdout


def test_a_file_added_to_a_package_fails_verification(footage, tmp_path, capsys):
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    added = with_member(package, tmp_path, "README-FIRST.txt", lambda d: b"trust me")
    capsys.readouterr()
    assert verify(added) == 1
    assert "README-FIRST.txt: not covered by the signed manifest" in capsys.readouterr().out


def section_lines(text: str, heading: str) -> list[str]:
    """The indented command lines of one section of VERIFY.txt."""
    section = text.split(heading, 1)[1].split("\n\n\n", 1)[0]
    return [
        line.strip()
        for line in section.splitlines()
        if line.startswith("   ") and not line.strip().startswith(("must", "or ", "(", '"'))
    ]


def commands(text: str, heading: str) -> list[str]:
    """The command lines of one section run in the unzipped folder (steps 1 to 4)."""
    return [c for c in section_lines(text, heading) if "PACKAGE.zip" not in c]


def zip_step(text: str, heading: str) -> str:
    """Step 0 of one section: run where the zip is, before unzipping, on PACKAGE.zip."""
    [line] = [c for c in section_lines(text, heading) if "PACKAGE.zip" in c]
    return line


def test_verify_txt_steps_work_as_written(footage, tmp_path):
    """The Linux, macOS (stock tools: sed, base64, shasum) and Python lines, run literally."""
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    folder = unzip(package, tmp_path / "x")
    text = (folder / "VERIFY.txt").read_text()
    fingerprint = re.search(r"fingerprint is:\s+([0-9a-f]{64})", text).group(1)

    def run(line):
        return subprocess.run(["bash", "-c", line], cwd=folder, capture_output=True, text=True)

    linux = commands(text, "LINUX (")
    assert len(linux) == 5
    assert "Signature Verified Successfully" in run(linux[0]).stdout
    assert "Signature Verified Successfully" in run(linux[1]).stdout
    assert run(linux[2]).stdout.split()[0] == fingerprint
    assert run(linux[3]).returncode == 0
    assert run(linux[4]).stdout == "Folder matches SHA256SUMS\n"
    mac = [c for c in commands(text, "MACOS (") if not c.startswith('"$(brew')]
    assert run(mac[0]).stdout.split()[0] == fingerprint  # sed | base64 --decode | shasum
    assert run(mac[1]).returncode == 0 and "clip.mp4: OK" in run(mac[1]).stdout
    [python] = [c for c in text.splitlines() if c.strip().startswith("python3 -c")]
    out = run(python.strip().replace("python3", str(Path(__import__("sys").executable)), 1))
    assert out.stdout.split("\n")[:2] == ["Signature Verified Successfully", fingerprint]
    (folder / "manifest.json").write_bytes((folder / "manifest.json").read_bytes() + b" ")
    out = run(python.strip().replace("python3", str(Path(__import__("sys").executable)), 1))
    assert out.returncode != 0 and "InvalidSignature" in out.stderr
    # Step 0, where the zip is, under the name the reader types for it; the folder is named.
    received = tmp_path / "received"
    received.mkdir()
    shutil.copy(package, received / "PACKAGE.zip")
    for heading in ("LINUX (", "MACOS ("):
        step = subprocess.run(
            ["bash", "-c", zip_step(text, heading)], cwd=received, capture_output=True, text=True
        )
        assert step.stdout == f"Zip holds only {folder.name}/\n", step.stderr
    # Windows: the PowerShell lines name the cmdlets a defence expert has.
    windows = text.split("WINDOWS (PowerShell)", 1)[1]
    assert (
        "Get-FileHash -Algorithm SHA256" in windows and "py -m pip install cryptography" in windows
    )
    assert "[IO.Compression.ZipFile]::OpenRead(" in windows
    assert f"-not $_.StartsWith('{folder.name}/', [StringComparison]::Ordinal)" in windows


BAD_CASES = ["26-1\r\nI, the undersigned, certify", "26\t1", "26-1\x1b[2J", "\u202e1-62", "9" * 101]


@pytest.mark.parametrize("case", BAD_CASES)
def test_export_clip_refuses_bad_case_numbers(footage, tmp_path, case):
    with pytest.raises(CommandError, match="case number"):
        call_command(
            "export_clip",
            "--camera",
            "North",
            "--start",
            "2026-11-23T14:00:01Z",
            "--end",
            "2026-11-23T14:00:03Z",
            "--case",
            case,
            "--reason",
            "r",
            "--out",
            str(tmp_path / "out"),
        )
    assert not Export.objects.exists() and not (tmp_path / "out").exists()


def test_export_clip_refuses_an_over_long_reason(footage, tmp_path):
    with pytest.raises(CommandError, match="reason is 2001 characters long; at most 2000"):
        call_command(
            "export_clip",
            "--camera",
            "North",
            "--start",
            "2026-11-23T14:00:01Z",
            "--end",
            "2026-11-23T14:00:03Z",
            "--case",
            "1",
            "--reason",
            "r" * 2001,
            "--out",
            str(tmp_path / "out"),
        )
    assert not Export.objects.exists()


@pytest.mark.parametrize("case", BAD_CASES)
def test_holds_refuse_bad_case_numbers_and_reasons(footage, case):
    camera, _ = footage
    with pytest.raises(HoldError, match="case number"):
        place_hold(camera, T0, T0 + timedelta(seconds=2), "robbery", case_number=case)
    with pytest.raises(HoldError, match="reason for the hold"):
        place_hold(camera, T0, T0 + timedelta(seconds=2), "a\x00b")
    assert not LegalHold.objects.exists()
    hold = place_hold(camera, T0, T0 + timedelta(seconds=2), "two\r\nlines")
    assert hold.reason == "two\nlines"  # a line break in a reason is fine
    with pytest.raises(HoldError, match="releasing the hold"):
        release_hold(hold, "x" * 2001)


@pytest.fixture
def investigator(client, db):
    user = User.objects.create_user("ines", password="x-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Investigator"))
    client.force_login(user)
    return client


@pytest.mark.parametrize("case", BAD_CASES[:1] + BAD_CASES[-1:])
def test_admin_export_form_refuses_bad_case_numbers(footage, investigator, case):
    camera, _ = footage
    response = investigator.post(
        reverse("admin:recordings_export_add"),
        {
            "cameras": [camera.pk],
            "start_0": "2026-11-23",
            "start_1": "14:00:01",
            "end_0": "2026-11-23",
            "end_1": "14:00:03",
            "case_number": case,
            "reason": "robbery",
        },
    )
    assert response.status_code == 200
    assert b"case number" in response.content.lower()
    assert not Export.objects.exists()


def test_console_export_form_refuses_a_case_number_with_a_line_break(footage, investigator):
    camera, _ = footage
    response = investigator.post(
        reverse("console:export_new"),
        {
            "cameras": [camera.pk],
            "start_date": "2026-11-23",
            "start_time": "14:00:01",
            "end_date": "2026-11-23",
            "end_time": "14:00:03",
            "case_number": "26-1\nforged line",
            "reason": "robbery",
        },
    )
    assert response.status_code == 200 and b"control character" in response.content
    assert not Export.objects.exists()
