"""What can be checked fast of `deploy/bootstrap.sh arm64-check` (the emulated run itself takes
many minutes and is not part of the suite; docs/deploy.md): its argument handling, and that
every requirement, pinned or pulled in, installs from a wheel on a Raspberry Pi's arm64
bookworm, as pip's resolver reports it from the index."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "deploy" / "bootstrap.sh"
CHECK = ROOT / "deploy" / "arm64-check.sh"
# Raspberry Pi OS bookworm has glibc 2.36: a wheel for manylinux_2_17 (= manylinux2014) up to
# manylinux_2_36 installs there. pip 23 does not widen one --platform to the older ones, so
# each is named. musllinux wheels are for Alpine's libc, not Debian's: they do not count.
PLATFORMS = [f"manylinux_2_{minor}_aarch64" for minor in range(17, 37)]


def run(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kwargs)


def test_bootstrap_usage_names_arm64_check():
    result = run(str(BOOTSTRAP), "no-such-command")
    assert result.returncode == 2 and "arm64-check" in result.stderr


def test_arm64_check_takes_no_arguments():
    result = run(str(BOOTSTRAP), "arm64-check", "--fast")
    assert result.returncode == 2
    assert result.stderr.strip() == f"usage: {BOOTSTRAP} arm64-check"


@pytest.mark.parametrize("argument", ["inside", "bogus"])
def test_the_inner_half_refuses_to_run_outside_the_emulated_system(argument, tmp_path):
    # `inside` starts a box in the current checkout: never on the host.
    (tmp_path / "cwd").mkdir()
    result = run(str(CHECK), argument, cwd=tmp_path / "cwd")
    assert result.returncode == 2 and "usage: deploy/bootstrap.sh arm64-check" in result.stderr
    assert list((tmp_path / "cwd").iterdir()) == []


@pytest.mark.skipif(not shutil.which("setpriv"), reason="apt package util-linux")
def test_arm64_check_needs_root_and_says_so(tmp_path):
    result = run(
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        str(BOOTSTRAP),
        "arm64-check",
        env={**os.environ, "CRIMEBOX_ARM64_CACHE": str(tmp_path / "cache")},
    )
    assert result.returncode == 1 and "run as root" in result.stderr
    assert not (tmp_path / "cache").exists()


def wheel_platform(filename: str) -> str:
    """The platform tag of a wheel file name: name-version(-build)?-python-abi-platform.whl."""
    return filename.removesuffix(".whl").split("-")[-1]


def test_every_requirement_has_an_arm64_wheel_or_is_pure_python(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_FIND_LINKS", "PIP_NO_INDEX")}
    report = tmp_path / "report.json"
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        + ["--only-binary=:all:", *platforms, "--python-version", "3.11"]
        + ["--target", str(tmp_path / "target"), "--report", str(report)]
        + ["-r", str(ROOT / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    # pip names the package that has no such wheel ("No matching distribution found for X").
    assert result.returncode == 0, result.stderr[-2000:]
    items = json.loads(report.read_text())["install"]
    files = {i["metadata"]["name"].lower(): i["download_info"]["url"] for i in items}
    not_arm = {
        name: url.rsplit("/", 1)[-1]
        for name, url in files.items()
        if not url.endswith(".whl")
        or not (wheel_platform(url) == "any" or "aarch64" in wheel_platform(url))
    }
    assert not_arm == {}
    pinned = re.findall(r"^([A-Za-z0-9_.-]+)==", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned and {name.lower() for name in pinned} <= files.keys()
    assert any("aarch64" in url for url in files.values())  # not only pure Python: checked


def sourced(script: str, **env: str) -> subprocess.CompletedProcess:
    """Run `script` in bash with deploy/arm64-check.sh's functions (sourced: nothing runs).
    The argument is one it refuses: were it to run when sourced, it stops at its usage."""
    return run(
        "bash", "-c", f'source "{CHECK}" not-an-argument\n{script}', env={**os.environ, **env}
    )


def test_the_report_file_names_the_commit_and_the_total_time(tmp_path):
    inner = tmp_path / "inner.txt"
    inner.write_text("PASS stop (3 s)\nMachine: aarch64\n")
    out = tmp_path / "arm64-report.txt"
    script = f"""BINFMT_STATE="binfmt_misc mounted, qemu-aarch64 not registered before the run"
write_report "{inner}" "{out}" abc1234 692
write_report "{tmp_path / "none"}" "{tmp_path / "empty.txt"}" abc1234 5"""
    assert sourced(script).returncode == 0
    assert out.read_text().splitlines() == [
        "Commit: abc1234",
        "Host: binfmt_misc mounted, qemu-aarch64 not registered before the run "
        "(the cleanup returns to it)",
        "PASS stop (3 s)",
        "Machine: aarch64",
        "Total: 692 s",
    ]
    empty = (tmp_path / "empty.txt").read_text().splitlines()
    assert empty[2:] == ["no report: the chroot did not run", "Total: 5 s"]


def test_cleanup_removes_only_the_qemu_handlers_that_were_not_there_before(tmp_path):
    """Installing qemu-user-static registers handlers itself: each one it added goes (a
    handler is removed by writing -1 to it), the host's own stay."""
    binfmt = tmp_path / "binfmt_misc"
    binfmt.mkdir()
    for name in ("qemu-aarch64", "qemu-arm", "qemu-riscv64", "python3.11", "status"):
        (binfmt / name).write_text("enabled\n")
    script = 'HANDLERS_BEFORE=" qemu-riscv64 "\nrestore_binfmt'
    result = sourced(f'BINFMT_DIR="{binfmt}"\n{script}')
    assert result.returncode == 0, result.stderr
    removed = sorted(p.name for p in binfmt.iterdir() if p.read_text() == "-1\n")
    assert removed == ["qemu-aarch64", "qemu-arm"]
    for name in removed:
        (binfmt / name).write_text("enabled\n")
    assert sourced(f'BINFMT_DIR="{binfmt}"\nrestore_binfmt').returncode == 0  # never looked
    assert not any("-1" in p.read_text() for p in binfmt.iterdir())
