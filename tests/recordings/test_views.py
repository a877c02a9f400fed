from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from audit.models import AuditEvent
from crimebox.ranges import Unsatisfiable, parse_range
from recordings.footage.timeline import day_timeline
from recordings.index import open_segment, segment_dir
from recordings.models import Gap, Segment
from tests.factories import close_viewings, make_camera, make_media, make_segments

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def user_with(role):
    user = User.objects.create_user(
        role.lower().replace(" ", ""), password="x-pass-123", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def footage(db):
    camera = make_camera("North")
    segs = make_segments(camera, T0, 2, seconds=4)
    Gap.objects.create(
        camera=camera,
        start=T0 + timedelta(seconds=8),
        end=T0 + timedelta(seconds=20),
        cause=Gap.Cause.STALLED,
        detail="no data",
    )
    return camera, segs


@pytest.fixture
def investigator(client, db):
    client.force_login(user_with("Investigator"))
    return client


def test_range_requests(footage, investigator):
    _, segs = footage
    data = segs[0].abs_path.read_bytes()
    url = reverse("recordings:media", args=[segs[0].pk])
    full = investigator.get(url)
    assert full.status_code == 200 and full["Accept-Ranges"] == "bytes"
    assert b"".join(full.streaming_content) == data
    for header, first, last in [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(data) - 1),
        ("bytes=-50", len(data) - 50, len(data) - 1),
        ("bytes=10-10", 10, 10),
        (f"bytes=5-{len(data) * 2}", 5, len(data) - 1),
    ]:
        r = investigator.get(url, HTTP_RANGE=header)
        assert r.status_code == 206, header
        assert r["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
        assert b"".join(r.streaming_content) == data[first : last + 1]
    # Well formed but outside the file: 416 with the size.
    for unsatisfiable in [
        f"bytes={len(data)}-",
        f"bytes={len(data) + 5}-{len(data) + 9}",
        "bytes=-0",
    ]:
        r = investigator.get(url, HTTP_RANGE=unsatisfiable)
        assert r.status_code == 416, unsatisfiable
        assert r["Content-Range"] == f"bytes */{len(data)}"
    # Malformed, another unit, last < first, several ranges: ignored (RFC 9110 §14.2), whole file.
    for ignored in ["bytes=abc", "bytes=5-2", "items=0-5", "bytes=-", "bytes=0-1,5-9", "bytes 0-5"]:
        r = investigator.get(url, HTTP_RANGE=ignored)
        assert r.status_code == 200, ignored
        assert "Content-Range" not in r
        assert r["Content-Length"] == str(len(data))
        assert b"".join(r.streaming_content) == data


def test_parse_range_unit():
    assert parse_range("bytes=0-0", 1) == (0, 0)
    assert parse_range("bytes=9-3", 10) is None
    assert parse_range("items=0-5", 10) is None
    for unsatisfiable in ["bytes=-0", "bytes=10-"]:
        with pytest.raises(Unsatisfiable):
            parse_range(unsatisfiable, 10)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0)


@pytest.mark.parametrize(
    "path",
    [
        "/footage/segment/..%2f..%2fetc%2fpasswd/media.mp4",
        "/footage/segment/-1/media.mp4",
        "/footage/segment/1/../../../etc/passwd",
        "/footage/segment/%2e%2e/media.mp4",
        "/footage/segment/999999/media.mp4",
        "/footage/segment//etc/passwd/download",
    ],
)
def test_path_tricks_never_reach_a_file(footage, investigator, path):
    response = investigator.get(path)
    assert response.status_code == 404
    assert b"root:" not in response.content


def test_tampered_row_path_cannot_escape(footage, investigator):
    _, segs = footage
    Segment.objects.filter(pk=segs[0].pk).update(path="../../../../../etc/passwd")
    assert investigator.get(reverse("recordings:media", args=[segs[0].pk])).status_code == 404


def test_deleted_segment_is_404(footage, investigator):
    _, segs = footage
    Segment.objects.filter(pk=segs[0].pk).update(status=Segment.Status.DELETED)
    response = investigator.get(reverse("recordings:player", args=[segs[0].pk]))
    assert response.status_code == 404


def test_permissions(footage, client):
    _, segs = footage
    urls = [
        reverse("recordings:index"),
        reverse("recordings:day", args=[segs[0].camera_id, "2026-11-23"]),
        reverse("recordings:player", args=[segs[0].pk]),
        reverse("recordings:media", args=[segs[0].pk]),
        reverse("recordings:download", args=[segs[0].pk]),
        reverse("recordings:thumb", args=[segs[0].pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    client.force_login(user_with("Field technician"))
    for url in urls:
        assert client.get(url).status_code == 403, url
    client.force_login(user_with("Auditor"))
    assert client.get(urls[3]).status_code == 403


def test_day_page_draws_coverage_and_gaps_and_is_audited(footage, investigator):
    camera, segs = footage
    response = investigator.get(reverse("recordings:day", args=[camera.pk, "2026-11-23"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="segment"') == 2
    assert 'class="gap"' in html and "Stream stalled" in html
    assert reverse("recordings:thumb", args=[segs[0].pk]) in html
    assert AuditEvent.objects.filter(action="view", camera=camera).count() == 1


def test_play_and_download_are_audited_and_unaltered(footage, investigator):
    _, segs = footage
    assert investigator.get(reverse("recordings:player", args=[segs[1].pk])).status_code == 200
    response = investigator.get(reverse("recordings:download", args=[segs[1].pk]))
    assert b"".join(response.streaming_content) == segs[1].abs_path.read_bytes()
    assert "attachment" in response["Content-Disposition"]
    close_viewings()  # the viewing's entry is written once it is over
    actions = list(
        AuditEvent.objects.exclude(action="login")
        .order_by("sequence")
        .values_list("action", "target")
    )
    assert actions == [("download", f"segment {segs[1].pk}"), ("play", f"segment {segs[1].pk}")]


def test_thumbnail_made_once(footage, investigator):
    _, segs = footage
    url = reverse("recordings:thumb", args=[segs[0].pk])
    first = investigator.get(url)
    assert first.status_code == 200 and first["Content-Type"] == "image/jpeg"
    from recordings.footage.thumbnails import thumbnail_path

    made = thumbnail_path(segs[0]).stat().st_mtime_ns
    investigator.get(url)
    assert thumbnail_path(segs[0]).stat().st_mtime_ns == made


def test_hold_from_the_timeline(footage, investigator):
    camera, segs = footage
    url = reverse("recordings:day", args=[camera.pk, "2026-11-23"])
    investigator.post(
        url,
        {
            "start": "2026-11-23T14:00:01",
            "end": "2026-11-23T14:00:02",
            "reason": "Case 26-9",
            "case_number": "26-9",
        },
    )
    assert set(Segment.objects.filter(on_hold=True).values_list("pk", flat=True)) == {segs[0].pk}
    response = investigator.post(url, {"start": "nonsense", "end": "", "reason": "x"}, follow=True)
    assert b"Give the hold" in response.content


def test_timeline_math(footage):
    camera, _ = footage
    t = day_timeline(camera, date(2026, 11, 23))
    segs = [b for b in t["bars"] if b.kind == "segment"]
    assert segs[0].x == pytest.approx(100 * 14 / 24)
    assert segs[0].width == pytest.approx(100 * 4 / 86400, abs=0.05)
    assert t["coverage_percent"] == pytest.approx(100 * 8 / 86400)


def test_segment_being_recorded_shows_and_plays_but_has_no_original_yet(footage, investigator):
    camera, segs = footage
    start = T0 + timedelta(seconds=20)
    path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"
    row = open_segment(camera, make_media(path, 2))
    now = start + timedelta(minutes=3)

    t = day_timeline(camera, date(2026, 11, 23), now=now)
    drawn = [b for b in t["bars"] if b.obj == row]
    assert len(drawn) == 1 and drawn[0].kind == "segment"
    assert drawn[0].end == now  # drawn up to now, not as a zero-length row
    day = investigator.get(reverse("recordings:day", args=[camera.pk, "2026-11-23"]))
    assert "recording now" in day.content.decode()

    player = investigator.get(reverse("recordings:player", args=[row.pk]))
    assert player.status_code == 200 and "still being recorded" in player.content.decode()
    assert player.context["prev"] == segs[-1]
    media = investigator.get(reverse("recordings:media", args=[row.pk]), HTTP_RANGE="bytes=0-99")
    assert media.status_code == 206
    download = investigator.get(reverse("recordings:download", args=[row.pk]))
    assert download.status_code == 404


def test_jump_to_a_time_opens_that_hour_and_finds_the_footage(footage, investigator):
    camera, segs = footage
    day = reverse("recordings:day", args=[camera.pk, "2026-11-23"])
    response = investigator.get(day, {"date": "2026-11-23", "time": "14:00"})
    assert response.status_code == 302
    assert response["Location"] == f"{day}?hour=14&at=140000#moment"

    page = investigator.get(day, {"hour": "14", "at": "1400"})
    assert page.status_code == 200
    assert page.context["found"]["segment"] == segs[0] and page.context["found"]["offset"] == 0
    html = page.content.decode()
    assert f"{reverse('recordings:player', args=[segs[0].pk])}?t=0.000" in html
    assert [t.label for t in page.context["ticks"]][:3] == ["14:00", "14:05", "14:10"]
    assert len(page.context["ticks"]) == 12 and html.count('class="segment"') == 2

    elsewhere = investigator.get(day, {"hour": "14", "at": "1401"})
    assert elsewhere.context["found"] == {} and "no footage" in elsewhere.content.decode()
    assert investigator.get(day, {"hour": "13"}).context["segments"] == []


@pytest.mark.parametrize("hour", ["24", "-1", "x", "1.5"])
def test_bad_hour_is_404(footage, investigator, hour):
    camera, _ = footage
    url = reverse("recordings:day", args=[camera.pk, "2026-11-23"])
    assert investigator.get(url, {"hour": hour}).status_code == 404


@pytest.mark.parametrize(
    "t,fragment",
    [
        ("2.5", "#t=2.500"),
        ("abc", None),
        ("-5", None),
        ("inf", None),
        ("nan", None),
        ("999", "#t=4.000"),
    ],
)
def test_player_starts_at_an_offset(footage, investigator, t, fragment):
    _, segs = footage
    page = investigator.get(reverse("recordings:player", args=[segs[0].pk]), {"t": t})
    media = reverse("recordings:media", args=[segs[0].pk])
    html = page.content.decode()
    assert page.status_code == 200
    assert (f'src="{media}{fragment}"' if fragment else f'src="{media}"') in html


def test_moment_at_a_cut_opens_the_segment_that_starts_there(db, investigator):
    camera = make_camera("North")
    first, second = make_segments(camera, T0 - timedelta(seconds=4), 2, seconds=4)
    # As recorded: the first file's last frame lasts a few ms past the next file's start.
    Segment.objects.filter(pk=first.pk).update(end=T0 + timedelta(milliseconds=40))
    day = reverse("recordings:day", args=[camera.pk, "2026-11-23"])
    page = investigator.get(day, {"hour": "14", "at": "1400"})
    assert page.context["found"]["segment"] == second


def test_footage_index_shows_every_camera_at_a_moment(footage, investigator):
    north, segs = footage
    south = make_camera("South")
    Gap.objects.create(
        camera=south,
        start=T0 - timedelta(hours=1),
        end=None,
        cause=Gap.Cause.CAMERA_UNREACHABLE,
        detail="No route to host",
    )
    page = investigator.get(reverse("recordings:index"), {"date": "2026-11-23", "time": "14:00"})
    html = page.content.decode()
    assert f"{reverse('recordings:player', args=[segs[0].pk])}?t=0.000" in html
    assert "no footage: Camera unreachable" in html
    assert AuditEvent.objects.filter(
        action="view", target="all cameras at 2026-11-23 14:00"
    ).exists()
    plain = investigator.get(reverse("recordings:index"), {"time": "25:99"})
    assert plain.status_code == 200 and "Play from" not in plain.content.decode()
    assert "is not a time of day" in plain.content.decode()  # said, not silently ignored


def test_a_moment_to_the_second(footage, investigator):
    """The player and the camera overlay run to the second: "record at" takes HH:MM:SS."""
    camera, segs = footage
    page = investigator.get(reverse("recordings:index"), {"date": "2026-11-23", "time": "14:00:03"})
    assert f"{reverse('recordings:player', args=[segs[0].pk])}?t=3.000" in page.content.decode()
    day = reverse("recordings:day", args=[camera.pk, "2026-11-23"])
    response = investigator.get(day, {"date": "2026-11-23", "time": "14:00:03"})
    assert response["Location"] == f"{day}?hour=14&at=140003#moment"
    assert investigator.get(day, {"hour": "14", "at": "140003"}).context["found"]["offset"] == 3
    bad = investigator.get(day, {"date": "2026-11-23", "time": "14:00:61"}, follow=True)
    assert "is not a time of day" in bad.content.decode()


def test_segment_being_recorded_since_the_previous_hour_shows_in_this_hour(db):
    camera = make_camera("North")
    start = T0 - timedelta(minutes=5)  # 13:55, still being written at 14:03
    path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"
    row = open_segment(camera, make_media(path, 1))
    t = day_timeline(camera, date(2026, 11, 23), now=T0 + timedelta(minutes=3), hour=14)
    assert t["segments"] == [row]
    assert t["segments"][0].end == T0 + timedelta(minutes=3)
    earlier = day_timeline(camera, date(2026, 11, 23), now=T0 + timedelta(minutes=3), hour=12)
    assert earlier["segments"] == []


def test_timeline_marks_footage_recorded_with_an_unsynchronised_clock(footage):
    camera, segs = footage
    Segment.objects.filter(pk=segs[0].pk).update(clock_synced=False)
    Segment.objects.filter(pk=segs[1].pk).update(clock_synced=True)
    titles = {
        b.obj.pk: b.title
        for b in day_timeline(camera, date(2026, 11, 23))["bars"]
        if b.kind == "segment"
    }
    assert "clock not NTP-synchronised" in titles[segs[0].pk]
    assert "clock" not in titles[segs[1].pk]
