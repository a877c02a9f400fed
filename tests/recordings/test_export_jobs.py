"""An export never stays RUNNING: any failure, or a worker killed, ends in FAILED with the
reason, retryable, its temporary folder removed; its audit entry (and a hold's) is written in
the transaction that finishes it."""

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.urls import reverse

from audit.models import AuditEvent
from recordings.evidence import jobs
from recordings.evidence.export import run_export
from recordings.holds import place_hold, release_hold
from recordings.models import Export, LegalHold
from recordings.tasks import prune_task
from sync.models import OutboxItem
from tests.factories import make_camera, make_segments

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def camera(db):
    camera = make_camera("North")
    make_segments(camera, T0, 2, seconds=4)
    return camera


def make_export(camera, **kw) -> Export:
    export = Export.objects.create(
        start=T0 + timedelta(seconds=1),
        end=T0 + timedelta(seconds=6),
        case_number="26-1",
        reason="robbery",
        **kw,
    )
    export.cameras.set([camera])
    return export


def leftovers() -> list[str]:
    return sorted(p.name for p in Path(settings.EXPORTS_DIR).glob("*"))


def dead_worker() -> str:
    """The worker string of a process that ran and is gone (its PID now free)."""
    proc = subprocess.Popen(["sleep", "30"])
    worker = f"{jobs.socket.gethostname()}:{proc.pid}:{jobs._started(proc.pid)}"
    proc.kill()
    proc.wait()
    return worker


def test_any_failure_ends_failed_with_its_reason_and_nothing_left(camera, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk controller said no")

    monkeypatch.setattr("recordings.evidence.package.cut_clip", broken)
    export = make_export(camera)
    assert run_export(export.pk) == "failed: RuntimeError: disk controller said no"
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED and "disk controller said no" in export.error
    assert export.worker == "" and export.finished_at is not None
    assert leftovers() == []  # no .export-* folder, no package


def test_a_killed_worker_is_noticed_cleaned_up_and_retried(
    camera, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)  # the retried task runs here
    export = make_export(camera)
    work = Path(settings.EXPORTS_DIR) / f".export-{export.pk}-x1y2"
    work.mkdir(parents=True)
    (work / "evidence-26-1.zip").write_bytes(b"PK half a package")
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.RUNNING, progress=40, worker=dead_worker(), work_dir=str(work)
    )
    assert run_export(export.pk) == "already taken"  # the task delivered again: not built
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert "stopped at 40%" in export.error and "Retry" in export.error
    assert leftovers() == []
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.retry_export(export.pk)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE, export.error
    assert export.abs_path.is_file() and leftovers() == [export.path]
    assert OutboxItem.objects.filter(kind="export").count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == 1


def test_the_periodic_task_resets_dead_workers_only(camera):
    dead, alive = make_export(camera), make_export(camera)
    Export.objects.filter(pk=dead.pk).update(status=Export.Status.RUNNING, worker=dead_worker())
    Export.objects.filter(pk=alive.pk).update(
        status=Export.Status.RUNNING, worker=jobs.this_worker()
    )
    prune_task()
    assert Export.objects.get(pk=dead.pk).status == Export.Status.FAILED
    assert Export.objects.get(pk=alive.pk).status == Export.Status.RUNNING
    assert not jobs.retry_export(alive.pk)  # a live worker's export is not taken from it


def test_retry_from_the_export_page(client, camera, django_capture_on_commit_callbacks):
    export = make_export(camera, status=Export.Status.FAILED, error="ffmpeg died")
    auditor = User.objects.create_user("audrey", password="x", is_staff=True)
    auditor.groups.add(Group.objects.get(name="Auditor"))
    client.force_login(auditor)
    url = reverse("console:export_retry", args=[export.pk])
    assert client.post(url).status_code == 403
    investigator = User.objects.create_user("ines", password="x", is_staff=True)
    investigator.groups.add(Group.objects.get(name="Investigator"))
    client.force_login(investigator)
    page = client.get(reverse("console:export", args=[export.pk]))
    assert b"Retry this export" in page.content
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(url)
    assert response.status_code == 302 and len(queued) == 1
    assert Export.objects.get(pk=export.pk).status == Export.Status.QUEUED


class Crash(Exception):
    pass


def crash(*args, **kwargs):
    raise Crash("power cut")


def test_an_export_and_its_audit_entry_commit_together(camera, monkeypatch):
    monkeypatch.setattr("recordings.evidence.export.log.record", crash)
    export = make_export(camera, hold_sources=True)
    assert run_export(export.pk).startswith("failed: Crash: power cut")
    assert Export.objects.get(pk=export.pk).status == Export.Status.FAILED
    assert not LegalHold.objects.exists()  # the sources' hold went with it
    assert not OutboxItem.objects.filter(kind="export").exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()
    assert leftovers() == []  # the package built is not left unrecorded


def test_a_hold_and_its_audit_entry_commit_together(camera, monkeypatch):
    hold = place_hold(camera, T0, T0 + timedelta(seconds=4), "robbery")
    monkeypatch.setattr("recordings.holds.log.record", crash)
    with pytest.raises(Crash):
        place_hold(camera, T0, T0 + timedelta(seconds=8), "robbery")
    assert list(LegalHold.objects.all()) == [hold]
    with pytest.raises(Crash):
        release_hold(hold, "case closed")
    assert LegalHold.objects.get().is_active
