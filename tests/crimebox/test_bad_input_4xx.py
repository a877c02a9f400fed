"""Inputs that gave a 500 get a clear 4xx (or, where HTTP says so, a normal answer)."""

import os
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.factories import make_camera, make_segments

HUGE = "9" * 4301  # past Python's int-from-text limit (4,300 digits)


@pytest.fixture
def segment(db):
    [seg] = make_segments(make_camera("North"), datetime(2026, 11, 23, 14, tzinfo=UTC), 1)
    seg.abs_path.write_bytes(os.urandom(3000))
    return seg


@pytest.mark.parametrize("name", ["recordings:media", "recordings:download"])
@pytest.mark.parametrize("header", [f"bytes={HUGE}-", f"bytes={HUGE}-{HUGE}", f"bytes=-{HUGE}"])
def test_range_with_a_huge_number(admin_client, segment, name, header):
    r = admin_client.get(reverse(name, args=[segment.pk]), HTTP_RANGE=header)
    if header.startswith(f"bytes={HUGE}"):
        assert r.status_code == 416 and r["Content-Range"] == "bytes */3000"
    else:  # a suffix longer than the file: the whole file (RFC 9110 §14.1.2)
        assert r.status_code == 206 and len(b"".join(r.streaming_content)) == 3000


@pytest.mark.django_db
def test_range_with_a_huge_number_on_a_package(admin_client, settings):
    from recordings.models import Export

    (settings.EXPORTS_DIR / "p.zip").write_bytes(b"z" * 100)
    export = Export.objects.create(
        start=datetime(2026, 11, 23, tzinfo=UTC),
        end=datetime(2026, 11, 23, 0, 1, tzinfo=UTC),
        case_number="C1",
        reason="r",
        status=Export.Status.DONE,
        path="p.zip",
    )
    url = reverse("admin:recordings_export_download", args=[export.pk])
    assert admin_client.get(url, HTTP_RANGE=f"bytes={HUGE}-").status_code == 416


@pytest.mark.django_db
@pytest.mark.parametrize("behind", ["nan", "inf", "-inf", "1e999"])
def test_recorded_behind_not_a_number(admin_client, behind):
    camera = make_camera("North")
    r = admin_client.get(reverse("live:recorded", args=[camera.pk]), {"behind": behind})
    assert r.status_code == 400


@pytest.mark.django_db
def test_export_form_with_a_huge_camera_id(admin_client):
    r = admin_client.get(reverse("console:export_new"), {"camera": "1" * 30})
    assert r.status_code in (200, 400)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Admin", "admin ", "ａｄｍｉｎ", "ADMIN"])
def test_adding_a_user_whose_name_folds_to_another(admin_client, name):
    # admin_client's own superuser is "admin".
    r = admin_client.post(
        reverse("admin:auth_user_add"),
        {"username": name, "password1": "x-very-long-pass-42", "password2": "x-very-long-pass-42",
         "usable_password": "true"},
    )  # fmt: skip
    assert r.status_code == 200  # the form again, with the error
    assert "already" in r.content.decode() or "exists" in r.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "admin:recordings_segment_changelist",
        "admin:recordings_gap_changelist",
        "admin:live_livesession_changelist",
        "admin:audit_auditevent_changelist",
        "admin:sync_outboxitem_changelist",
        "admin:sync_synclog_changelist",
    ],
)
@pytest.mark.parametrize("year", ["0", "9999999999999999999", "-1", "10000"])
def test_admin_date_filters_out_of_range(admin_client, url, year):
    field = {
        "admin:live_livesession_changelist": "started_at",
        "admin:audit_auditevent_changelist": "at",
        "admin:sync_outboxitem_changelist": "created_at",
        "admin:sync_synclog_changelist": "started_at",
    }.get(url, "start")
    r = admin_client.get(reverse(url), {f"{field}__year": year})
    assert r.status_code == 400, r.status_code
    assert b"must be a number" in r.content


@pytest.mark.django_db
def test_export_request_with_a_huge_camera_id(admin_client):
    r = admin_client.post(
        reverse("console:export_new"),
        {"cameras": ["1" * 30], "case_number": "C", "reason": "r", "start_date": "2026-11-23",
         "start_time": "14:00", "end_date": "2026-11-23", "end_time": "14:01"},
    )  # fmt: skip
    assert r.status_code == 200 and "Select a valid choice" in r.content.decode()
