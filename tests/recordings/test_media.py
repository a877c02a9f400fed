"""recordings/footage/media.py via the test client: HEAD, honest audit entries, the stream cap."""

import os
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from recordings.footage import views
from recordings.footage.media import CHUNK
from tests.factories import close_viewings, make_camera, make_segments
from tests.recordings.test_views import user_with

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def segment(db):
    """A closed segment whose file is several blocks long (the bytes are not parsed here)."""
    [seg] = make_segments(make_camera("North"), T0, 1, seconds=4)
    seg.abs_path.write_bytes(os.urandom(5 * CHUNK + 123))
    return seg


@pytest.fixture
def investigator(client, db):
    client.force_login(user_with("Investigator"))
    return client


def entries(action):
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


def test_head_sends_nothing_and_audits_nothing(segment, investigator):
    for name in ("recordings:download", "recordings:media"):
        response = investigator.head(reverse(name, args=[segment.pk]))
        assert response.status_code == 200
        assert response["Content-Length"] == str(segment.abs_path.stat().st_size)
        assert response.content == b""
    assert entries("download") == [] and entries("play") == []


def test_full_get_of_media_is_audited_with_the_bytes_sent(segment, investigator):
    size = segment.abs_path.stat().st_size
    response = investigator.get(reverse("recordings:media", args=[segment.pk]))
    assert b"".join(response.streaming_content) == segment.abs_path.read_bytes()
    assert entries("play") == []  # written once the viewing is over
    assert close_viewings() == 1
    [event] = entries("play")
    assert event.target == f"segment {segment.pk}"
    assert event.detail["result"] == "viewed" and event.detail["requests"] == 1
    assert event.detail["bytes_sent"] == event.detail["bytes"] == size


def test_range_stream_counts_its_bytes(segment, investigator):
    response = investigator.get(
        reverse("recordings:media", args=[segment.pk]), HTTP_RANGE="bytes=100-199"
    )
    assert len(b"".join(response.streaming_content)) == 100
    close_viewings()
    [event] = entries("play")
    assert event.detail["bytes_sent"] == 100 and event.detail["requests"] == 1


def test_interrupted_download_says_how_much_was_sent(segment, rf):
    # The view itself, as the WSGI server sees it (the test client would read it to the end).
    request = rf.get(reverse("recordings:download", args=[segment.pk]))
    request.user = user_with("Investigator")
    response = views.download(request, segment_id=segment.pk)
    assert entries("download") == []  # nothing is written before the response closes
    stream = iter(response)
    next(stream), next(stream), next(stream)
    # The client went away: the server closes the response (without the request_finished
    # handler that would close the test's database connection).
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    [event] = entries("download")
    assert event.detail["result"] == "interrupted"
    # Two blocks were written in full before the server asked for the third.
    assert event.detail["bytes_sent"] == 2 * CHUNK
    assert event.detail["bytes"] == segment.abs_path.stat().st_size
    # The audit trail says so, not just "Downloaded".
    auditor = Client()
    auditor.force_login(User.objects.create_superuser("chief", password="x-long-pass-phrase"))
    page = auditor.get(reverse("admin:audit_auditevent_changelist")).content.decode()
    assert f"interrupted: at most {2 * CHUNK:,} of {event.detail['bytes']:,} bytes reached" in page


def test_complete_download_is_audited_once(segment, investigator):
    response = investigator.get(reverse("recordings:download", args=[segment.pk]))
    assert b"".join(response.streaming_content) == segment.abs_path.read_bytes()
    [event] = entries("download")
    assert event.detail["result"] == "sent"
    assert event.detail["sha256"] == segment.sha256


def test_streams_past_the_cap_get_503_with_retry_after(segment, investigator, settings):
    settings.MAX_DOWNLOADS = 2
    url = reverse("recordings:download", args=[segment.pk])
    held = [investigator.get(url), investigator.get(url)]
    refused = investigator.get(url)
    assert refused.status_code == 503
    assert int(refused["Retry-After"]) > 0
    assert b"2 files at once" in refused.content
    # Pages still answer, and a slot comes back as soon as one stream closes.
    assert investigator.get(reverse("recordings:player", args=[segment.pk])).status_code == 200
    b"".join(held[0].streaming_content)
    again = investigator.get(url)
    assert again.status_code == 200
    b"".join(again.streaming_content)
    b"".join(held[1].streaming_content)
    assert [e.detail["result"] for e in entries("download")] == ["sent"] * 3


def test_one_user_cannot_take_every_stream(segment, investigator, settings):
    """A per-user cap: stalled downloads by one investigator never leave everyone else with 503s."""
    settings.MAX_DOWNLOADS, settings.MAX_DOWNLOADS_PER_USER = 4, 2
    url = reverse("recordings:download", args=[segment.pk])
    held = [investigator.get(url) for _ in range(2)]
    assert [r.status_code for r in held] == [200, 200]
    mine = investigator.get(url)
    assert mine.status_code == 429 and int(mine["Retry-After"]) > 0
    assert b"each person's share" in mine.content
    other = Client()
    other.force_login(User.objects.create_user("ivan", password="x-pass-123", is_staff=True))
    other_user = User.objects.get(username="ivan")
    other_user.groups.add(*User.objects.get(username="investigator").groups.all())
    theirs = [other.get(url) for _ in range(2)]
    assert [r.status_code for r in theirs] == [200, 200]
    for r in held + theirs:
        b"".join(r.streaming_content)
    assert investigator.get(url).status_code == 200
