"""VERIFY.txt's documented steps, run word for word (step 0 where the zip is, the others in the
unzipped folder), fail on any change to the package: each file altered, removed or renamed, a
file added, SHA256SUMS regenerated to match, a file or a second folder added to the zip beside
the package folder; the untouched package passes; verify_evidence catches the same.

Before the fix SHA256SUMS was not signed: flip a byte of clip.mp4, regenerate SHA256SUMS with
sha256sum, and every Linux step still passed. And no step looked at the zip itself: a file
added at its root, beside the folder, passed every step.
"""

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tests.recordings.test_export import export, unzip, verify
from tests.recordings.test_package_input import T0, commands, footage, zip_step  # noqa: F401


def linux_steps(text: str) -> list[str]:
    return commands(text, "LINUX (")


def mac_steps(text: str) -> list[str]:
    """macOS's stock-tool lines, with the Python line standing in for Homebrew's OpenSSL."""
    [python] = [c.strip() for c in text.splitlines() if c.strip().startswith("python3 -c")]
    stock = [c for c in commands(text, "MACOS (") if not c.startswith('"$(brew')]
    return [python.replace("python3", sys.executable, 1), *stock]


def zip_steps(text: str) -> list[str]:
    """Step 0 of Linux and of macOS: run where the zip is, which the reader names PACKAGE.zip."""
    return [zip_step(text, "LINUX ("), zip_step(text, "MACOS (")]


def failed(folder: Path, steps: list[str]) -> list[str]:
    """The steps that fail, each run verbatim with bash in the folder."""
    return [
        step
        for step in steps
        if subprocess.run(["bash", "-c", step], cwd=folder, capture_output=True).returncode
    ]


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def regenerate_sums(folder: Path) -> None:
    """What a forger does: SHA256SUMS recomputed over the files as they now are."""
    names = sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.name not in ("SHA256SUMS", "SHA256SUMS.sig")
    )
    out = subprocess.run(["sha256sum", *names], cwd=folder, capture_output=True, check=True)
    (folder / "SHA256SUMS").write_bytes(out.stdout)


def cases(files: list[str]) -> dict[str, Callable[[Path], None]]:
    out: dict[str, Callable[[Path], None]] = {}
    for name in files:
        out[f"altered {name}"] = lambda f, n=name: flip(f / n)
        out[f"removed {name}"] = lambda f, n=name: (f / n).unlink()
        out[f"renamed {name}"] = lambda f, n=name: (f / n).rename(
            (f / n).with_name("x" + (f / n).name)
        )
    for added in ("READ-ME-FIRST.txt", ".hidden", "originals/extra.mp4", "originals/SHA256SUMS"):
        out[f"added {added}"] = lambda f, n=added: (f / n).write_bytes(b"trust me")
    out["clip.mp4 altered, SHA256SUMS regenerated"] = lambda f: (
        flip(f / "clip.mp4"),
        regenerate_sums(f),
    )
    out["evil.exe added, SHA256SUMS regenerated"] = lambda f: (
        (f / "evil.exe").write_bytes(b"MZ"),
        regenerate_sums(f),
    )
    out["clip.mp4 renamed, SHA256SUMS regenerated"] = lambda f: (
        (f / "clip.mp4").rename(f / "clip-0.mp4"),
        regenerate_sums(f),
    )
    # Beside the folder, so in the zip but not in the folder: only step 0 sees them.
    out["READ-ME-FIRST.txt added at the zip's root, beside the folder"] = lambda f: (
        f.parent / "READ-ME-FIRST.txt"
    ).write_bytes(b"trust me")
    out["a second folder at the zip's root"] = lambda f: shutil.copytree(
        f, f.with_name(f.name + "-2")
    )
    return out


def zipped(folder: Path, out: Path) -> Path:
    """A zip of everything in the folder's parent: the folder and anything added beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as z:
        for p in sorted(folder.parent.rglob("*")):
            if p.is_file():
                z.write(p, str(p.relative_to(folder.parent)))
    return out


def test_documented_steps_fail_on_any_change(footage, tmp_path, capsys):  # noqa: F811
    package = export(
        tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=6), "--include-originals"
    )
    pristine = unzip(package, tmp_path / "pristine")
    text = (pristine / "VERIFY.txt").read_text()
    linux, mac = linux_steps(text), mac_steps(text)
    assert len(linux) == 5 and len(mac) == 4
    zip_linux, zip_mac = zip_steps(text)
    assert (
        "Signature Verified Successfully"
        in subprocess.run(
            ["bash", "-c", linux[0]], cwd=pristine, capture_output=True, text=True
        ).stdout
    )
    assert failed(pristine, linux) == [] and failed(pristine, mac) == []
    received = zipped(pristine, tmp_path / "received" / "PACKAGE.zip")
    assert failed(received.parent, [zip_linux, zip_mac]) == []
    assert verify(received) == 0

    files = sorted(str(p.relative_to(pristine)) for p in pristine.rglob("*") if p.is_file())
    assert len([f for f in files if f.startswith("originals/")]) == 2
    assert {"SHA256SUMS", "SHA256SUMS.sig", "manifest.json", "clip.mp4"} <= set(files)
    passed_linux, passed_mac, passed_verify, only_step_0 = [], [], [], []
    for i, (case, change) in enumerate(cases(files).items()):
        folder = tmp_path / f"case{i}" / pristine.name
        shutil.copytree(pristine, folder)
        change(folder)
        received = zipped(folder, tmp_path / f"received{i}" / "PACKAGE.zip")
        if not failed(received.parent, [zip_linux]) and not failed(folder, linux):
            passed_linux.append(case)
        if not failed(received.parent, [zip_mac]) and not failed(folder, mac):
            passed_mac.append(case)
        if not failed(folder, linux) and not failed(folder, mac):
            only_step_0.append(case)
        capsys.readouterr()
        if verify(received) != 1:
            passed_verify.append(case)
        shutil.rmtree(folder.parent)
        shutil.rmtree(received.parent)
    assert passed_linux == [] and passed_mac == [] and passed_verify == []
    assert only_step_0 == [
        "READ-ME-FIRST.txt added at the zip's root, beside the folder",
        "a second folder at the zip's root",
    ]


def test_verify_txt_names_the_same_steps_on_every_system(footage, tmp_path):  # noqa: F811
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    text = (unzip(package, tmp_path / "x") / "VERIFY.txt").read_text()
    for system in ("LINUX (", "MACOS (", "WINDOWS (", "ANY SYSTEM"):
        section = text.split(system, 1)[1].split("\n\n\n", 1)[0]
        assert "SHA256SUMS.sig" in section, system
    windows = text.split("WINDOWS (PowerShell)", 1)[1].split("\n\n\n", 1)[0]
    assert "Get-ChildItem -Recurse -File -Force" in windows and "Compare-Object" in windows
    assert re.search(r"4\. Nothing else in the folder", windows)


def with_members(package: Path, out: Path, extra: dict[str, bytes]) -> Path:
    """A copy of the package with zip members added as named (raw names, not sanitised)."""
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for name, data in extra.items():
            dst.writestr(zipfile.ZipInfo(name), data)
    return out


@pytest.mark.parametrize(
    "member",
    [
        "READ-ME-FIRST.txt",
        "evil.exe",
        "../escape.txt",
        "{folder}/originals/../../x.txt",
        "{folder}/../x.txt",
        "{folder}/./clip.mp4",
        "{folder}//x.txt",
        "{folder}\\x.txt",
        "/etc/x.txt",
        "another-folder/clip.mp4",
        "{folder}/clip.mp4",  # a second member of the same name: unzip keeps the last
        "{folder}/extra/",
    ],
)
def test_verify_evidence_names_every_member_outside_the_package(footage, tmp_path, capsys, member):  # noqa: F811
    """Extra members at the zip's root, `../escape.txt` or `<folder>/originals/../../x.txt`
    are each named and the package fails, never "package verified"."""
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    with zipfile.ZipFile(package) as z:
        folder = z.namelist()[0].split("/")[0]
    name = member.format(folder=folder)
    capsys.readouterr()
    assert verify(with_members(package, tmp_path / "extra.zip", {name: b"trust me"})) == 1
    out = capsys.readouterr().out
    assert f"FAILED  {name}:" in out and "package verified" not in out


def test_verify_evidence_without_ffprobe_says_the_tool_is_missing(
    footage,  # noqa: F811
    tmp_path,
    capsys,
    settings,
):
    """Without ffprobe the package still verifies and the report says the tool is missing,
    never "the zip is damaged: [Errno 2] No such file or directory: '…/ffprobe'"."""
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    settings.FFPROBE = str(tmp_path / "bin" / "ffprobe")
    capsys.readouterr()
    assert verify(package) == 0
    out = capsys.readouterr().out
    assert "damaged" not in out and "FAILED" not in out
    assert "NOTE    the clips' frames were not checked: " in out
    assert "ffprobe cannot be run (No such file or directory): install FFmpeg" in out


def test_every_ffmpeg_run_maps_a_missing_tool_to_one_error(footage, tmp_path, settings):  # noqa: F811
    from crimebox import ffprobe, ffrun

    _, segments = footage
    settings.FFPROBE = settings.FFMPEG = str(tmp_path / "nowhere")
    calls = [
        lambda: ffprobe.probe(segments[0].abs_path),
        lambda: ffprobe.held_interval(segments[0].abs_path),
        lambda: ffprobe.keyframe_at_or_before(segments[0].abs_path, 1.0),
        lambda: ffrun.stream_stdout([settings.FFMPEG, "-version"], lambda b: None, 5),
    ]
    for call in calls:
        with pytest.raises(ffrun.ToolMissing, match="cannot be run .*install FFmpeg"):
            call()


def test_a_v1_package_still_verifies(footage, tmp_path, capsys):  # noqa: F811
    """Packages exported before SHA256SUMS was signed: their manifest lists SHA256SUMS."""
    import hashlib
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crimebox.keys import fingerprint_of

    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    out = tmp_path / "v1.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        folder = src.namelist()[0].split("/")[0]
        manifest = json.loads(src.read(f"{folder}/manifest.json"))
        files = {**manifest["files"], "box_public_key.pem": hashlib.sha256(pem).hexdigest()}
        sums = "".join(f"{h}  {n}\n" for n, h in sorted(files.items())).encode()
        files["SHA256SUMS"] = hashlib.sha256(sums).hexdigest()
        manifest |= {
            "format": "crimebox-evidence-v1",
            "files": files,
            "signing_key_fingerprint": fingerprint_of(key.public_key()),
        }
        data = json.dumps(manifest).encode()
        replaced = {
            "manifest.json": data,
            "manifest.sig": key.sign(data),
            "box_public_key.pem": pem,
            "SHA256SUMS": sums,
        }
        for info in src.infolist():
            name = info.filename.split("/", 1)[1]
            if name != "SHA256SUMS.sig":
                dst.writestr(info.filename, replaced.get(name, src.read(info)))
    capsys.readouterr()
    assert verify(out) == 0, capsys.readouterr().out
