"""The purpose-made export form, the exports list and one export's page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from recordings.models import Export
from tests.factories import make_camera, make_segments
from tests.helpers import login

T0 = datetime(2026, 11, 23, 18, 55, tzinfo=UTC)


@pytest.fixture
def footage(db):
    camera = make_camera("North")
    make_segments(camera, T0, 2, seconds=4)
    return camera


def post(camera, **kw):
    return {
        "cameras": [camera.pk],
        "start_date": "2026-11-23",
        "start_time": "18:55:01",
        "end_date": "2026-11-23",
        "end_time": "18:55:06",
        "case_number": "26-004512",
        "reason": "hit and run",
        "hold_sources": "on",
        **kw,
    }


def test_form_is_prefilled_from_the_player_in_the_box_zone(client, footage, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    login(client, "Investigator")
    query = f"?camera={footage.pk}&start=2026-11-23T18:57:00.000Z&end=2026-11-23T18:59:00.000Z"
    page = client.get(reverse("console:export_new") + query).content.decode()
    assert f'value="{footage.pk}" id="id_cameras_0" checked' in page
    assert 'name="start_time" value="19:57:00"' in page
    assert 'name="end_time" value="19:59:00"' in page
    assert 'name="start_date" value="2026-11-23"' in page
    assert "Europe/Berlin" in page and "24-hour" in page
    form = page.split('id="export-form"')[1].split("</form>")[0]
    assert form.count('type="submit"') == 1 and 'value="Build package"' in form
    assert 'type="checkbox" name="cameras"' in page
    assert "add_another" not in page and "_save" not in page  # no admin "+" or Save buttons
    assert 'pattern="([01][0-9]|2[0-3])' in page  # a 24-hour text input, not a 12-hour picker


def test_garbage_in_the_query_is_not_prefilled(client, footage):
    login(client, "Investigator")
    page = client.get(reverse("console:export_new") + "?camera=x&start=2026-13-45T99:00Z")
    assert page.status_code == 200 and 'name="start_time" value' not in page.content.decode()


def test_build_package_queues_one_export_with_one_message(
    client, footage, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
    settings.TIME_ZONE = "UTC"
    user = login(client, "Investigator")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("console:export_new"), post(footage))
    export = Export.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('console:exports')}?new={export.pk}"
    assert (export.start, export.end) == (T0 + timedelta(seconds=1), T0 + timedelta(seconds=6))
    assert export.requested_by == user and list(export.cameras.all()) == [footage]
    assert export.status == Export.Status.DONE, export.error
    page = client.get(response["Location"])
    messages = [str(m) for m in get_messages(page.wsgi_request)]
    assert len(messages) == 1
    assert "2026-11-23 18:55:01–18:55:06 UTC" in messages[0] and "UTC =" not in messages[0]
    rows = page.content.decode()
    for text in ("North", "2026-11-23 18:55:01–18:55:06 UTC", "26-004512", "hit and run"):
        assert text in rows
    assert "investigator" in rows and " MB<" in rows
    assert reverse("admin:recordings_export_download", args=[export.pk]) in rows


def test_form_errors_save_nothing(client, footage):
    login(client, "Investigator")
    response = client.post(reverse("console:export_new"), post(footage, end_time="18:55:00"))
    assert response.status_code == 200
    assert b"must be after its start" in response.content
    response = client.post(
        reverse("console:export_new"), post(footage, start_time="7pm", case_number="")
    )
    assert (
        b"Enter a valid time" in response.content and b"This field is required" in response.content
    )
    assert not Export.objects.exists()


def test_export_page_has_a_download_link_and_a_human_size(client, footage):
    login(client, "Investigator")
    export = Export.objects.create(
        start=T0,
        end=T0 + timedelta(seconds=4),
        case_number="26-1",
        reason="robbery",
        status=Export.Status.DONE,
        path="pkg.zip",
        size=28846236,
        sha256="ab" * 32,
        finished_at=timezone.now(),
    )
    export.cameras.add(footage)
    page = client.get(reverse("console:export", args=[export.pk])).content.decode()
    assert "28.8 MB" in page and "28846236" not in page
    assert "pkg.zip" not in page and "EXPORTS_DIR" not in page
    assert reverse("admin:recordings_export_download", args=[export.pk]) in page
    admin_page = client.get(reverse("admin:recordings_export_change", args=[export.pk]))
    assert admin_page["Location"] == reverse("console:export", args=[export.pk])


def test_list_refreshes_while_a_package_is_built(client, footage):
    login(client, "Investigator")
    export = Export.objects.create(
        start=T0,
        end=T0 + timedelta(seconds=4),
        case_number="26-1",
        reason="x",
        status=Export.Status.RUNNING,
        progress=40,
    )
    export.cameras.add(footage)
    rows = client.get(reverse("console:exports") + "?rows=1").content.decode()
    assert 'data-busy="1"' in rows and 'value="40"' in rows and "<html" not in rows
    Export.objects.filter(pk=export.pk).update(status=Export.Status.DONE, size=2_000_000)
    rows = client.get(reverse("console:exports") + "?rows=1").content.decode()
    assert 'data-busy="0"' in rows and "2.0 MB" in rows


def test_technician_cannot_export_or_list(client, footage):
    login(client, "Field technician")
    assert client.get(reverse("console:export_new")).status_code == 403
    assert client.get(reverse("console:exports")).status_code == 403


def test_auditor_lists_but_cannot_export(client, footage):
    login(client, "Auditor")
    page = client.get(reverse("console:exports"))
    assert page.status_code == 200 and b"New export" not in page.content
    assert client.get(reverse("console:export_new")).status_code == 403


def test_case_and_reason_follow_the_shared_rules(client, footage):
    login(client, "Investigator")
    response = client.post(
        reverse("console:export_new"),
        post(footage, case_number="26-1\x1b[2J", reason="x" * 2001),
    )
    body = response.content.decode()
    assert "The case number contains a control character (U+001B)" in body
    assert "The reason is 2001 characters long" in body
    response = client.post(
        reverse("console:export_new"), post(footage, start_date="2099-01-01", end_date="2099-01-01")
    )
    assert "in the future" in response.content.decode()
    assert not Export.objects.exists()


def test_unicode_digits_for_a_camera_are_not_prefilled(client, footage):
    """`"²".isdigit()` is True but int("²") raises: a superscript must not reach the query."""
    login(client, "Investigator")
    page = client.get(reverse("console:export_new") + "?camera=%C2%B2")
    assert page.status_code == 200
