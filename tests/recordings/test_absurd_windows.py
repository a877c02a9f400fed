"""Absurd holds and exports are refused with a clear message and nothing saved: a typo in a year
must not hold or export a century of nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from recordings.holds import HoldError, place_hold
from recordings.models import Export, LegalHold
from tests.factories import make_camera, make_segments

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def camera(db):
    camera = make_camera("North")
    make_segments(camera, T0, 2, seconds=4)
    return camera


@pytest.mark.parametrize(
    "start,end,message",
    [
        (T0, T0 + timedelta(microseconds=1), "must be at least 1 s"),
        (T0, timezone.now() + timedelta(days=3650), "more than 7 days from now"),
        (datetime(1, 1, 1, tzinfo=UTC), T0, "before any recording: check the year"),
        (T0, T0, "must be after its start"),
    ],
)
def test_absurd_holds_are_refused(camera, start, end, message):
    with pytest.raises(HoldError, match=message):
        place_hold(camera, start, end, "robbery")
    assert not LegalHold.objects.exists()


def test_a_hold_for_an_event_about_to_start_is_fine(camera):
    start, end = timezone.now(), timezone.now() + timedelta(days=2)
    place_hold(camera, start, end, "parade tomorrow")
    hold = LegalHold.objects.get()
    assert (hold.camera, hold.start, hold.end) == (camera, start, end)
    assert hold.reason == "parade tomorrow"


@pytest.mark.parametrize(
    "start,end,message",
    [
        ("2099-01-01T10:00:00Z", "2099-01-01T10:05:00Z", "starts on 2099-01-01 .* in the future"),
        ("2026-11-23T14:00:00Z", "2099-01-01T10:05:00Z", "ends on 2099-01-01 .* in the future"),
        ("0001-01-01T00:00:00Z", "2026-11-23T14:00:05Z", "check the year"),
        ("2026-11-23T14:00:00Z", "2026-11-23T14:00:00.000001Z", "at least 1 s"),
    ],
)
def test_absurd_exports_are_refused(camera, tmp_path, start, end, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "export_clip",
            "--camera",
            "North",
            "--start",
            start,
            "--end",
            end,
            "--case",
            "1",
            "--reason",
            "r",
            "--out",
            str(tmp_path / "out"),
        )
    assert not Export.objects.exists() and not (tmp_path / "out").exists()


def test_end_before_start_in_the_admin_names_no_constraint(camera, client):
    user = User.objects.create_user("ines", password="x-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Investigator"))
    client.force_login(user)
    response = client.post(
        reverse("admin:recordings_export_add"),
        {
            "cameras": [camera.pk],
            "start_0": "2026-11-23",
            "start_1": "14:00:05",
            "end_0": "2026-11-23",
            "end_1": "14:00:01",
            "case_number": "1",
            "reason": "r",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200 and "must be after its start" in page
    assert "export_end_after_start" not in page and "Constraint" not in page
    assert not Export.objects.exists()
