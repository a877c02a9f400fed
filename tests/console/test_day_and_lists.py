"""The camera day page (times once, 24-hour inputs, hold defaults, later today, the moment
asked for) and the segment, gap and hold lists."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from recordings.holds import place_hold
from recordings.index import open_segment, segment_dir
from recordings.models import Gap, LegalHold
from tests.factories import make_camera, make_media, make_segments
from tests.helpers import login

T0 = datetime(2026, 11, 23, 18, 55, tzinfo=UTC)


@pytest.fixture
def camera(db):
    camera = make_camera("North")
    make_segments(camera, T0, 2, seconds=4)
    return camera


def day_url(camera, day="2026-11-23"):
    return reverse("recordings:day", args=[camera.pk, day])


def test_times_once_24_hour_inputs_and_whole_day_hold_defaults(client, camera):
    login(client, "Investigator")
    page = client.get(day_url(camera)).content.decode()
    assert "2026-11-23 00:00:00 – 2026-11-24 00:00:00 UTC" in page
    assert "UTC =" not in page and "i.e." not in page
    assert 'type="time"' not in page and 'type="datetime-local"' not in page
    assert 'name="start" size="19" required value="2026-11-23 00:00:00"' in page
    assert 'name="end" size="19" required value="2026-11-24 00:00:00"' in page  # not 23:59


def test_hold_form_defaults_to_a_timeline_selection(client, camera):
    login(client, "Investigator")
    query = "?from=2026-11-23T18:55:01Z&to=2026-11-23T18:57:00Z"
    page = client.get(day_url(camera) + query).content.decode()
    assert 'value="2026-11-23 18:55:01"' in page and 'value="2026-11-23 18:57:00"' in page
    page = client.get(day_url(camera) + "?from=garbage&to=2026-99-99T00:00Z").content.decode()
    assert 'value="2026-11-23 00:00:00"' in page


def test_a_whole_day_hold_covers_the_last_minute(client, camera):
    login(client, "Investigator")
    response = client.post(
        day_url(camera),
        {"start": "2026-11-23 00:00:00", "end": "2026-11-24 00:00:00", "reason": "case"},
        follow=True,
    )
    hold = LegalHold.objects.get()
    assert hold.end == datetime(2026, 11, 24, tzinfo=UTC)
    assert "2026-11-23 00:00:00 – 2026-11-24 00:00:00 UTC" in response.content.decode()


def test_hour_zoom_marks_the_moment_asked_for(client, camera):
    login(client, "Investigator")
    page = client.get(day_url(camera) + "?hour=18&at=1857").content.decode()
    assert 'id="moment-mark" style="left:95.0000%"' in page  # 18:57 is 57/60 of the hour
    assert "Play from 18:57:00" not in page  # footage ends 18:55:08
    assert "<b>no footage</b>" in page


def test_later_today_is_not_no_footage(client, camera):
    login(client, "Investigator")
    now = timezone.localtime()
    if now.hour == 23:
        pytest.skip("no later hour today")
    later = (now + timedelta(hours=1)).strftime("%H%M")
    url = reverse("recordings:day", args=[camera.pk, now.date().isoformat()])
    page = client.get(url + f"?hour={now.hour + 1}&at={later}").content.decode()
    assert "<b>later today</b>: not recorded yet" in page and "<b>no footage</b>" not in page
    assert 'class="later" style="left:0.0000%' in page
    day = client.get(url).content.decode()
    assert 'class="later"' in day and "later today" in day
    past = client.get(day_url(camera)).content.decode()
    assert 'class="later"' not in past


def test_segment_rows_open_the_player_and_say_what_they_are(client, camera, settings):
    login(client, "Investigator")
    seg = camera.segments.order_by("start").first()
    place_hold(camera, T0, T0 + timedelta(seconds=3), "case 1")
    start = T0 + timedelta(seconds=30)
    open_segment(camera, make_media(segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4", 1))
    page = client.get(reverse("admin:recordings_segment_changelist")).content.decode()
    assert reverse("recordings:player", args=[seg.pk]) in page
    assert reverse("admin:recordings_segment_change", args=[seg.pk]) not in page
    assert "icon-no.svg" not in page and "icon-yes.svg" not in page
    assert "HELD" in page
    assert "recording…" in page and "0.0 s" not in page and "0.0 MB" not in page


def test_gap_and_hold_lists_cut_long_text(client, camera):
    login(client, "Investigator")
    detail = "rtsp://10.0.0.7:554/stream1: Connection timed out " * 10
    Gap.objects.create(camera=camera, start=T0, end=None, cause=Gap.Cause.STALLED, detail=detail)
    place_hold(camera, T0, T0 + timedelta(minutes=2), "robbery " * 40, case_number="26-1")
    gaps = client.get(reverse("admin:recordings_gap_changelist")).content.decode()
    assert "ongoing" in gaps and detail not in gaps.replace(f'title="{detail}"', "")
    holds = client.get(reverse("admin:recordings_legalhold_changelist")).content.decode()
    assert "2026-11-23 18:55:00–18:57:00 UTC" in holds and "active (footage held)" in holds
    reason = ("robbery " * 40).strip()
    assert reason not in holds.replace(f'title="{reason}"', "")


@pytest.mark.parametrize(
    "name, heading",
    [
        ("recordings_segment", "Recorded segments: newest first"),
        ("recordings_gap", "Gaps in the footage, and why"),
        ("recordings_legalhold", "Legal holds: footage retention may not delete"),
        ("recordings_integritycheck", "Integrity checks: every file re-hashed"),
        ("cameras_camera", "Cameras: what each records"),
    ],
)
def test_lists_are_headed_by_their_purpose(admin_client, name, heading):
    page = admin_client.get(reverse(f"admin:{name}_changelist")).content.decode()
    assert f"<h1>{heading}" in page and "Select " not in page.split("<h1>")[1][:30]
