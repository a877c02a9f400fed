"""The console is its own deployable: rtcc.settings starts, migrates its own database and loads
none of the box's recorder, live, recordings or sync code."""

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOX_ONLY = {"recordings", "live", "sync", "console"}


def console_env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")}
    env.update(
        DJANGO_SETTINGS_MODULE="rtcc.settings",
        CRIMEBOX_DATA_DIR=str(data),
        CRIMEBOX_RTCC_ENV_FILE=os.devnull,
    )
    return env


def manage(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=console_env(data),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_console_checks_migrates_and_loads_no_box_code(tmp_path):
    data = tmp_path / "console"
    checked = manage(data, "check")
    assert checked.returncode == 0, checked.stderr
    migrated = manage(data, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert (data / "rtcc.sqlite3").is_file()
    probe = manage(
        data,
        "shell",
        "-c",
        "import sys; from django.conf import settings; from django.urls import reverse; "
        "print(reverse('admin:index'), settings.BIND, settings.DATA_DIR.name); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        f"set({sorted(BOX_ONLY)!r})))",
    )
    assert probe.returncode == 0, probe.stderr
    first, second = probe.stdout.splitlines()[-2:]
    assert first == "/admin/ 0.0.0.0:8100 console"
    assert second == "[]"  # nothing of the box's recorder, live, recordings or sync loaded


def test_console_defaults_differ_from_the_box(tmp_path):
    """One checkout runs a box and a console: different data directory, port, env file and
    cookie names."""
    env = console_env(tmp_path)
    del env["CRIMEBOX_DATA_DIR"]
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.DATA_DIR.name, s.BIND, s.DATABASES['default']['NAME'].rsplit('/', 1)[-1], "
            "s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME)",
        ],
        env={**env, "CRIMEBOX_DATA_DIR": str(tmp_path / "data-rtcc")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    # Cookies are per host, not per port: the box keeps Django's names (sessionid, csrftoken).
    assert out.stdout.split() == [
        "data-rtcc",
        "0.0.0.0:8100",
        "rtcc.sqlite3",
        "rtcc_sessionid",
        "rtcc_csrftoken",
    ]
    settings_text = (ROOT / "rtcc" / "settings.py").read_text()
    assert 'BASE_DIR / "data-rtcc"' in settings_text and 'BASE_DIR / ".env.rtcc"' in settings_text


def test_rtcc_imports_none_of_the_box_only_apps():
    """The console may use crimebox/, audit/, cameras' model and the shared signature code,
    never the recorder, live, recordings or sync code (STYLE.md, rtcc/)."""
    bad = []
    for path in sorted((ROOT / "rtcc").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bad += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in BOX_ONLY]
    assert bad == []


def test_console_commands_refuse_an_unmigrated_database(tmp_path):
    data = tmp_path / "console"
    for args in (
        ["rtcc_boxes"],
        ["rtcc_enrol", "box-1", "ab" * 32],
        ["rtcc_jobs"],
        ["rtcc_verify"],
    ):
        proc = manage(data, *args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert "not migrated" in proc.stderr and "Traceback" not in proc.stderr, args


def test_console_commands_find_the_local_ledger_bootstrap_started(tmp_path):
    """`bootstrap.sh rtcc` keeps its local ledger's URI in DATA_DIR/ledger-uri; a console
    manage.py in another terminal reads it, unless a URI is given."""
    (tmp_path / "ledger-uri").write_text("mongodb://127.0.0.1:27117/\n")
    show = "import django; django.setup(); from django.conf import settings as s; "
    show += "print(repr(s.RTCC_URI), repr(s.RTCC_URI_FILE))"

    def uri_settings(**given: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", show],
            env={**console_env(tmp_path), **given},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert uri_settings() == f"'' '{tmp_path / 'ledger-uri'}'"
    given = uri_settings(CRIMEBOX_RTCC_URI="mongodb://dc.example.org/")
    assert given == "'mongodb://dc.example.org/' ''"
