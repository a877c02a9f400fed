import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

ROOT = Path(__file__).resolve().parents[2]


def run_settings(env_extra: dict, expr: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")}
    env.update(env_extra, DJANGO_SETTINGS_MODULE="crimebox.settings", CRIMEBOX_ENV_FILE=os.devnull)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print(({expr}))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_defaults(tmp_path):
    out = run_settings(
        {"CRIMEBOX_DATA_DIR": str(tmp_path)},
        "settings.DEBUG, settings.SEGMENT_SECONDS, settings.BOX_ID, settings.DATABASES['default']"
        "['NAME'], settings.DATABASES['default']['OPTIONS']['transaction_mode']",
    )
    import socket

    assert out == (
        f"(False, 900, {socket.gethostname()!r}, "
        f"{str(tmp_path / 'crimebox.sqlite3')!r}, 'IMMEDIATE')"
    )
    for sub in ("recordings", "exports", "keys"):
        assert (tmp_path / sub).is_dir()


def test_environment_overrides(tmp_path):
    out = run_settings(
        {
            "CRIMEBOX_DATA_DIR": str(tmp_path),
            "CRIMEBOX_SEGMENT_SECONDS": "60",
            "CRIMEBOX_BOX_ID": "pole-17",
            "CRIMEBOX_DEBUG": "1",
            "CRIMEBOX_ALLOWED_HOSTS": "10.147.17.5,box.zt",
        },
        "settings.SEGMENT_SECONDS, settings.BOX_ID, settings.DEBUG, settings.ALLOWED_HOSTS",
    )
    assert out == "(60, 'pole-17', True, ['10.147.17.5', 'box.zt'])"


def test_env_file_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / "box.env"
    env_file.write_text("CRIMEBOX_SEGMENT_SECONDS=120\nCRIMEBOX_BOX_ID=from-file\n")
    env = {"CRIMEBOX_DATA_DIR": str(tmp_path), "CRIMEBOX_BOX_ID": "from-env"}
    envp = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")}
    envp.update(env, DJANGO_SETTINGS_MODULE="crimebox.settings", CRIMEBOX_ENV_FILE=str(env_file))
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            "print(settings.SEGMENT_SECONDS, settings.BOX_ID)",
        ],
        cwd=ROOT,
        env=envp,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "120 from-env"


def test_secret_key_generated_once_with_mode_0600(tmp_path):
    first = run_settings({"CRIMEBOX_DATA_DIR": str(tmp_path)}, "settings.SECRET_KEY")
    second = run_settings({"CRIMEBOX_DATA_DIR": str(tmp_path)}, "settings.SECRET_KEY")
    key_file = tmp_path / "keys" / "secret_key"
    assert first == second == key_file.read_text()
    assert len(first) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = run_settings({"CRIMEBOX_DATA_DIR": str(tmp_path / "other")}, "settings.SECRET_KEY")
    assert other != first


def test_secret_key_from_environment(tmp_path):
    out = run_settings(
        {"CRIMEBOX_DATA_DIR": str(tmp_path), "CRIMEBOX_SECRET_KEY": "s3cret-" * 8},
        "settings.SECRET_KEY",
    )
    assert out == "s3cret-" * 8
    assert not (tmp_path / "keys" / "secret_key").exists()


def test_sqlite_runs_in_wal_mode(db):
    from django.db import connection

    with connection.cursor() as c:
        c.execute("PRAGMA journal_mode")
        assert c.fetchone()[0] == "wal"


def ids(messages):
    return sorted(m.id for m in messages)


def test_checks_pass_on_this_machine():
    assert [m for m in run_checks() if m.id.startswith("crimebox.")] == []


def test_check_missing_ffmpeg(settings):
    settings.FFMPEG = "/nonexistent/ffmpeg"
    settings.FFPROBE = "no-such-ffprobe"
    msgs = [m for m in run_checks() if m.id.startswith("crimebox.")]
    assert ids(msgs) == ["crimebox.E001", "crimebox.E002"]
    assert "apt-get install ffmpeg" in msgs[0].hint


def test_check_unwritable_data_dir(settings, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    settings.RECORDINGS_DIR = ro / "missing"
    msgs = [m for m in run_checks() if m.id.startswith("crimebox.")]
    assert ids(msgs) == ["crimebox.E003"]


def test_check_low_free_space(settings):
    settings.MIN_FREE_GB = 10**9  # more than any disk has
    msgs = [m for m in run_checks() if m.id.startswith("crimebox.")]
    assert ids(msgs) == ["crimebox.W001"]
    assert "CRIMEBOX_MIN_FREE_GB" in msgs[0].msg


def test_clock_synchronised_answers_from_the_kernel():
    from crimebox.clock import clock_synchronized

    # This machine's kernel answers (Linux); what it answers depends on its NTP state.
    assert clock_synchronized() in (True, False)


@pytest.mark.parametrize(
    "state,expected",
    [
        (0, True),  # TIME_OK
        (1, True),  # TIME_INS: a leap second is announced, the clock is disciplined
        (2, True),  # TIME_DEL
        (3, True),  # TIME_OOP
        (4, True),  # TIME_WAIT
        (5, False),  # TIME_ERROR: not synchronised (no NTP, or it gave up)
        (-1, None),  # the call failed
    ],
)
def test_clock_synchronised_maps_the_kernels_answer(monkeypatch, state, expected):
    """adjtimex(2)'s return value, through the same ctypes call with the C library faked."""
    from crimebox import clock

    calls = []

    class FakeLibc:
        def adjtimex(self, buffer):
            calls.append(bytes(buffer.raw[:4]))
            return state

    monkeypatch.setattr(clock, "_libc", lambda: FakeLibc())
    assert clock.clock_synchronized() is expected
    assert calls == [b"\0\0\0\0"]  # modes = 0: read only, never set the clock


def test_clock_synchronised_is_unknown_off_linux_or_without_libc(monkeypatch):
    from crimebox import clock

    def missing():
        raise OSError("no libc")

    monkeypatch.setattr(clock, "_libc", missing)
    assert clock.clock_synchronized() is None
    monkeypatch.setattr(clock.sys, "platform", "darwin")
    assert clock.clock_synchronized() is None
