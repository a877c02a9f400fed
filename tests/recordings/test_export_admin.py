import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.models import AuditEvent
from recordings.evidence.verify import verify_package
from recordings.models import Export
from tests.factories import make_camera, make_segments

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def investigator(client, db):
    user = User.objects.create_user("ines", password="x-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Investigator"))
    client.force_login(user)
    return client


def form(camera, start, end, **kw):
    return {
        "cameras": [camera.pk],
        "start_0": f"{start:%Y-%m-%d}",
        "start_1": f"{start:%H:%M:%S}",
        "end_0": f"{end:%Y-%m-%d}",
        "end_1": f"{end:%H:%M:%S}",
        "case_number": "26-1",
        "reason": "robbery",
        "hold_sources": "on",
        **kw,
    }


def test_export_from_the_admin_runs_and_downloads(
    investigator, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)  # the task runs in this process
    camera = make_camera("North")
    make_segments(camera, T0, 2, seconds=4)
    with django_capture_on_commit_callbacks(execute=True):
        response = investigator.post(
            reverse("admin:recordings_export_add"),
            form(camera, T0 + timedelta(seconds=1), T0 + timedelta(seconds=6)),
        )
    assert response.status_code == 302
    export = Export.objects.get()
    assert response["Location"] == reverse("console:export", args=[export.pk])
    messages = list(get_messages(response.wsgi_request))
    assert len(messages) == 1 and "Export queued" in str(messages[0])  # one message, not two
    assert export.status == Export.Status.DONE, export.error
    page = investigator.get(reverse("admin:recordings_export_changelist"), follow=True)
    download = reverse("admin:recordings_export_download", args=[export.pk])
    assert download.encode() in page.content
    response = investigator.get(download)
    data = b"".join(response.streaming_content)
    assert hashlib.sha256(data).hexdigest() == export.sha256
    assert verify_package(export.abs_path).ok
    assert AuditEvent.objects.filter(action="download", target=f"export {export.pk}").exists()


def test_export_form_errors_save_nothing(investigator):
    camera = make_camera("North")
    make_segments(camera, T0, 1, seconds=4)
    response = investigator.post(
        reverse("admin:recordings_export_add"),
        form(camera, T0 + timedelta(hours=2), T0 + timedelta(hours=3)),
    )
    assert response.status_code == 200
    assert b"There is no footage" in response.content
    response = investigator.post(
        reverse("admin:recordings_export_add"), form(camera, T0 + timedelta(seconds=3), T0)
    )
    assert b"must be after its start" in response.content
    assert not Export.objects.exists()


def test_technician_cannot_export(client, db):
    user = User.objects.create_user("tom", password="x-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Field technician"))
    client.force_login(user)
    assert client.get(reverse("admin:recordings_export_add")).status_code == 403


def test_export_form_states_the_time_zone(investigator, settings):
    settings.TIME_ZONE = "America/Chicago"
    page = investigator.get(reverse("admin:recordings_export_add"), follow=True)
    assert "the box's time (America/Chicago), 24-hour" in page.content.decode()
