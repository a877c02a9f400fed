"""The console on PostgreSQL, end to end: rtcc.settings with CRIMEBOX_DATABASE_URL=postgres://
migrates, ingests real signed box documents from the ledger (FerretDB), verifies them, lists
the box, and its pages render for an operator and an investigator. Every step is a manage.py
subprocess under rtcc.settings, so nothing of the test process's SQLite settings leaks in."""

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg

from rtcc.management.commands.rtcc_ingest import INGEST_LOCK
from tests.helpers import wait_for
from tests.peers.postgresql import USER, PostgreSQL

from .conftest import T0, LedgerBox

ROOT = Path(__file__).resolve().parents[2]

# Run by `manage.py shell -c` in the console: a user per role, and the pages they open.
PAGES = f"""
import json
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from rtcc import roles
start, end = "{T0 - timedelta(hours=1):%Y-%m-%dT%H:%M}", "{T0 + timedelta(hours=1):%Y-%m-%dT%H:%M}"
status = {{"database": connection.vendor}}
for role in (roles.OPERATOR, roles.INVESTIGATOR):
    name = role.split()[-1]
    user = User.objects.create_user(name, password="role-pass-2026", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    for page in ("/", "/boxes/box-1/", "/alerts/"):
        status[name + " " + page] = client.get(page).status_code
client = Client()
client.force_login(User.objects.get(username="investigator"))
window = client.get("/where/", {{"start": start, "end": end, "boxes": "box-1"}})
status["where"] = window.status_code
status["where lists"] = "1 camera with footage" in window.content.decode()
found = client.get("/where/", {{"sha256": SHA.upper()}})
status["sha256"] = found.status_code
status["sha256 found"] = "box-1" in found.content.decode().split("hash-results")[-1]
print(json.dumps(status))
"""


def console(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def connect(server: PostgreSQL, name: str) -> psycopg.Connection:
    return psycopg.connect(host=str(server.dir), port=server.port, user=USER, dbname=name)


def migrated_console(server: PostgreSQL, data: Path, **settings: str) -> tuple[dict, str]:
    """The environment of a console on a new PostgreSQL database, migrated; and its name."""
    name = f"rtcc{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEBOX_")}
    env.update(
        DJANGO_SETTINGS_MODULE="rtcc.settings",
        CRIMEBOX_RTCC_ENV_FILE=os.devnull,
        CRIMEBOX_DATA_DIR=str(data),
        CRIMEBOX_DATABASE_URL=server.create_database(name),
        **settings,
    )
    migrated = console(env, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    return env, name


def test_the_console_runs_on_postgresql(rtcc_postgresql, rtcc_ferretdb, rtcc_ledger, tmp_path):
    env, name = migrated_console(
        rtcc_postgresql,
        tmp_path / "console",
        CRIMEBOX_RTCC_URI=rtcc_ferretdb.uri,
        CRIMEBOX_RTCC_DB=rtcc_ledger.name,
        CRIMEBOX_ALLOWED_HOSTS="testserver",
    )

    box = LedgerBox(rtcc_ledger)
    box.register()
    box.camera()
    segments = [box.segment() for _ in range(3)]
    box.heartbeat(time=T0 + timedelta(minutes=45))
    first = console(env, "rtcc_ingest", "--once")  # an unknown box: pending, documents held
    assert first.returncode == 0, first.stderr
    enrolled = console(env, "rtcc_enrol", "box-1", box.key.fingerprint)
    assert enrolled.returncode == 0, enrolled.stderr
    second = console(env, "rtcc_ingest", "--once")
    assert second.returncode == 0, second.stderr

    verified = console(env, "rtcc_verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["boxes"][0]["segments"] == 3

    listed = console(env, "rtcc_boxes", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)["boxes"]
    assert row["box"] == "box-1" and row["enrolment"] == "enrolled" and row["integrity_ok"]
    assert [c["camera"] for c in row["cameras"]] == ["North"]

    pages = console(env, "shell", "-c", f"SHA = {segments[1]['sha256']!r}\n{PAGES}")
    assert pages.returncode == 0, pages.stderr
    status = json.loads(pages.stdout.splitlines()[-1])
    assert status == {
        "database": "postgresql",
        **{
            f"{who} {page}": 200
            for who in ("operator", "investigator")
            for page in ("/", "/boxes/box-1/", "/alerts/")
        },
        "where": 200,
        "where lists": True,
        "sha256": 200,
        "sha256 found": True,
    }

    # An operator revokes the box's key while an ingest pass is applying documents. PostgreSQL
    # does not serialise the two as SQLite's BEGIN IMMEDIATE does: the revocation must survive
    # the pass (the pass waits for it), not be written back over with the pass's stale copy.
    box.segment()
    with connect(rtcc_postgresql, name) as operator, connect(rtcc_postgresql, name) as watch:
        watch.autocommit = True
        operator.execute("SELECT 1 FROM rtcc_box WHERE box_id = 'box-1' FOR UPDATE")
        ingest = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "rtcc_ingest", "--once"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The pass is blocked by the operator's lock (a fresh snapshot each poll: autocommit).
        waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
        wait_for(lambda: watch.execute(waiting).fetchone() == (1,), what="the pass to wait")
        operator.execute("UPDATE rtcc_box SET enrolment = 'revoked' WHERE box_id = 'box-1'")
        operator.commit()
        _, err = ingest.communicate(timeout=60)
        assert ingest.returncode == 0, err
        enrolment = operator.execute("SELECT enrolment FROM rtcc_box WHERE box_id = 'box-1'")
        assert enrolment.fetchone() == ("revoked",)

        # A second ingest against the same database, from another host with its own data
        # directory (where the first one's lock file is not), is refused, and says why.
        watch.execute("SELECT pg_advisory_lock(%s)", [INGEST_LOCK])
        elsewhere = {**env, "CRIMEBOX_DATA_DIR": str(tmp_path / "other-host")}
        refused = console(elsewhere, "rtcc_ingest", "--once")
        assert refused.returncode != 0
        assert f"another ingest is running against the database {name}" in refused.stderr


# Run by `manage.py shell -c`: one audit entry, in a transaction held open until told.
HOLD = """
import sys
from django.db import transaction
from audit import log
with transaction.atomic():
    log.record("test", target="first")
    print("appended", flush=True)
    sys.stdin.readline()
"""


def test_two_consoles_append_to_the_audit_trail_at_once(rtcc_postgresql, tmp_path):
    """PostgreSQL lets two transactions read the same last entry, which SQLite's BEGIN
    IMMEDIATE does not: the second append must wait for the first, not fail on its number."""
    env, name = migrated_console(rtcc_postgresql, tmp_path / "console")
    manage = [sys.executable, str(ROOT / "manage.py"), "shell", "-c"]
    pipes = dict(env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = subprocess.Popen([*manage, HOLD], stdin=subprocess.PIPE, **pipes)
    try:
        assert first.stdout is not None and first.stdin is not None
        lines = iter(first.stdout.readline, "")
        assert "appended\n" in lines, first.stderr and first.stderr.read()
        second = subprocess.Popen(
            [*manage, 'from audit import log; log.record("test", target="second")'], **pipes
        )
        with connect(rtcc_postgresql, name) as watch:
            watch.autocommit = True
            waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
            wait_for(lambda: watch.execute(waiting).fetchone()[0] >= 1, what="the second")
            first.stdin.write("\n")
            first.stdin.close()
            assert first.wait(30) == 0, first.stderr and first.stderr.read()
            _, err = second.communicate(timeout=30)
            assert second.returncode == 0, err
            entries = watch.execute(
                "SELECT target, sequence FROM audit_auditevent WHERE action = 'test'"
                " ORDER BY sequence"
            ).fetchall()
        assert [t for t, _ in entries] == ["first", "second"]
        assert entries[1][1] == entries[0][1] + 1
    finally:
        first.kill()
        first.wait()
    checked = console(env, "verify_audit")
    assert checked.returncode == 0, checked.stdout + checked.stderr
