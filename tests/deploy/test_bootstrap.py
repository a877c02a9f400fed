"""deploy/bootstrap.sh install/update as far as a machine without a running systemd allows:
the files it writes (units checked by `systemd-analyze verify`) and its dry run."""

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "deploy" / "bootstrap.sh"
UNITS = ["crimebox-web", "crimebox-cluster", "crimebox-recorder", "crimebox-live"]
# The venv running these tests, which need not be the checkout's own .venv.
VENV = Path(sys.prefix)


def bootstrap(*args, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CRIMEBOX_", "INSTALL_"))}
    full.update({"CRIMEBOX_VENV": str(VENV), **env})
    return subprocess.run(
        [str(BOOTSTRAP), *args], env=full, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("render")
    result = bootstrap("render", str(out), INSTALL_DATA_DISK="UUID=0a1b2c3d")
    assert result.returncode == 0, result.stderr
    return out


def unit(rendered, name):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(rendered / f"{name}.service")
    return parser


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="apt package systemd")
def test_units_pass_systemd_analyze_verify(rendered):
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(rendered / f"{u}.service") for u in UNITS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # not even "Failed to parse ... ignoring"


@pytest.mark.parametrize("name", UNITS)
def test_units_are_safe_for_a_deployed_box(rendered, name):
    u = unit(rendered, name)
    assert "zerotier-one.service" in u["Unit"]["After"]
    assert u["Unit"]["RequiresMountsFor"] == "/var/lib/crimebox"
    s = u["Service"]
    assert s["UMask"] == "0027"
    assert s["User"] == "crimebox" and s["ProtectProc"] == "invisible"
    assert s["EnvironmentFile"] == "/etc/crimebox.env"
    assert s["WorkingDirectory"] == str(ROOT)  # this checkout, wherever it is


def test_web_unit_runs_the_threaded_server_and_recorder_is_stopped_gently(rendered):
    web = unit(rendered, "crimebox-web")["Service"]
    assert web["ExecStart"].endswith("gunicorn -c python:crimebox.gunicorn_conf crimebox.wsgi")
    assert "${" not in web["ExecStart"]  # nothing from the env file on the command line
    assert unit(rendered, "crimebox-recorder")["Service"]["KillMode"] == "mixed"


def test_units_run_the_venv_given_even_outside_the_checkout(tmp_path):
    result = bootstrap("render", str(tmp_path), CRIMEBOX_VENV="/srv/crimebox-venv")
    assert result.returncode == 0, result.stderr
    for name in UNITS:
        service = unit(tmp_path, name)["Service"]
        assert service["ExecStart"].startswith("/srv/crimebox-venv/bin/"), name
        assert service["WorkingDirectory"] == str(ROOT)


def test_fstab_lines_and_journal(rendered):
    disk, proc = (rendered / "fstab").read_text().splitlines()
    fields = disk.split()
    assert fields[:3] == ["UUID=0a1b2c3d", "/var/lib/crimebox", "ext4"]
    assert "nofail" in fields[3].split(",")
    assert proc.split()[:4] == ["proc", "/proc", "proc", "defaults,hidepid=invisible"]
    journal = (rendered / "journald-crimebox.conf").read_text()
    assert "Storage=volatile" in journal and "RuntimeMaxUse=" in journal


def test_install_dry_run_changes_nothing_and_mounts_before_chown():
    result = bootstrap(
        "install", "--dry-run", INSTALL_DATA_DISK="UUID=0a1b2c3d", CRIMEBOX_BOX_ID="pole-17"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()

    def index(fragment):
        return next(i for i, line in enumerate(lines) if fragment in line)

    fstab = lines[index("would append to /etc/fstab: UUID=0a1b2c3d")]
    assert "nofail" in fstab
    assert index("would run: mount /var/lib/crimebox") < index("chown crimebox:crimebox")
    assert "hidepid=invisible" in result.stdout
    env_at = index("would write: /etc/crimebox.env (mode 0640, root:crimebox)")
    env_text = []
    for line in lines[env_at + 1 :]:
        if not line.startswith("    | "):
            break
        env_text.append(line[6:])
    assert "CRIMEBOX_DATA_MOUNT=/var/lib/crimebox" in env_text
    assert "CRIMEBOX_BOX_ID=pole-17" in env_text
    assert not [line for line in env_text[1:] if "#" in line]  # no inline comments
    owner = VENV.resolve().owner()
    assert f"runuser -u {owner} -- " in lines[index("pip install")]
    assert "runuser -u crimebox" in lines[index("manage.py migrate")]
    assert "init_box --no-test-pattern" in result.stdout
    assert (
        "systemctl enable --now crimebox-web crimebox-cluster crimebox-recorder crimebox-live"
        in result.stdout
    )
    assert (
        not Path("/etc/crimebox.env").exists()
        or "pole-17" not in Path("/etc/crimebox.env").read_text()
    )
    assert lines[-1] == (
        "bootstrap: dry run: nothing was changed; the above is what install would do"
    )
    assert "installed:" not in result.stdout


def test_update_dry_run_collects_static_and_restarts():
    result = bootstrap("update", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "git -C" in out and "pull --ff-only" in out
    assert "manage.py collectstatic --noinput" in out
    assert out.index("manage.py migrate") < out.index("systemctl restart crimebox-web")


def test_an_inline_comment_in_the_settings_file_stops_install(tmp_path):
    env_file = tmp_path / "crimebox.env"
    text = "CRIMEBOX_BIND=10.147.17.5:8000          # the box's ZeroTier address\n"
    env_file.write_text(text)
    result = bootstrap("install", "--dry-run", INSTALL_ENV_FILE=str(env_file))
    assert result.returncode != 0
    assert "CRIMEBOX_BIND" in result.stderr and "comment" in result.stderr
    assert "systemctl enable" not in result.stdout  # stopped there
    assert env_file.read_text() == text


def test_update_keeps_the_data_directory_the_settings_file_names(tmp_path):
    env_file = tmp_path / "crimebox.env"
    env_file.write_text("CRIMEBOX_DATA_DIR=/srv/pole17\nCRIMEBOX_BOX_ID=pole-17\n")
    result = bootstrap("update", "--dry-run", INSTALL_ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr
    assert "/var/lib/crimebox" not in result.stdout
    assert "RequiresMountsFor=/srv/pole17" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="writes files owned by root:root")
def test_files_are_written_once_and_left_alone_when_unchanged(tmp_path):
    """install/update are idempotent: `put` rewrites a file only when its text or mode changed."""
    script = f"""
        set -euo pipefail
        ROOT={ROOT}; . {ROOT}/deploy/install.sh
        target={tmp_path}/etc/crimebox.env
        for i in 1 2; do CHANGED=(); put "$target" 0640 root:root <<<"CRIMEBOX_BOX_ID=pole-17"
          echo "run $i: ${{#CHANGED[@]}}"; done
        chmod 0644 "$target"; CHANGED=(); put "$target" 0640 root:root <<<"CRIMEBOX_BOX_ID=pole-17"
        echo "mode fixed: ${{#CHANGED[@]}} $(stat -c %a "$target")"
    """
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["run 1: 1", "run 2: 0", "mode fixed: 1 640"]
    assert (tmp_path / "etc" / "crimebox.env").read_text() == "CRIMEBOX_BOX_ID=pole-17\n"
