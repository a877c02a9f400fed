"""audit/viewings.py: one "play" entry per person's viewing of a segment, with the bytes it took,
however many partial requests the browser made."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse

from audit import viewings
from audit.models import AuditEvent, Viewing
from recordings import tasks
from recordings.footage import views
from recordings.footage.media import CHUNK
from tests.factories import close_viewings, make_camera, make_segments
from tests.recordings.test_views import user_with

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
SIZE = 5 * CHUNK + 123


@pytest.fixture
def segment(db):
    [seg] = make_segments(make_camera("North"), T0, 1, seconds=4)
    seg.abs_path.write_bytes(os.urandom(SIZE))
    return seg


def watch(client, segment, ranges):
    """The player page, then the browser's partial requests for the file."""
    assert client.get(reverse("recordings:player", args=[segment.pk])).status_code == 200
    sent = 0
    for header in ranges:
        response = client.get(reverse("recordings:media", args=[segment.pk]), HTTP_RANGE=header)
        sent += len(b"".join(response.streaming_content))
    return sent


def plays():
    return list(AuditEvent.objects.filter(action="play").order_by("sequence"))


def test_a_viewing_of_many_partial_requests_is_one_entry_with_its_bytes(client, segment):
    client.force_login(user_with("Investigator"))
    ranges = ["bytes=0-", "bytes=0-1023", f"bytes={SIZE - 512}-", "bytes=4096-", "bytes=0-", "x"]
    sent = watch(client, segment, ranges)
    assert plays() == []  # nothing is written while the viewing goes on
    assert close_viewings() == 1
    [event] = plays()
    assert event.target == f"segment {segment.pk}" and event.username == "investigator"
    assert event.detail["requests"] == 1 + len(ranges)  # the page and every file request
    assert event.detail["bytes_sent"] == sent and event.detail["bytes"] == SIZE
    assert event.detail["received"] == f"at most {sent} bytes"
    assert not Viewing.objects.exists()
    assert close_viewings() == 0  # written once
    # The trail reads as what the person did.
    auditor = Client()
    auditor.force_login(User.objects.create_superuser("chief", password="x-long-pass-phrase"))
    page = auditor.get(reverse("admin:audit_auditevent_changelist")).content.decode()
    assert f"viewed in 7 request(s): at most {sent:,} bytes reached the client" in page


def test_each_person_and_each_segment_is_a_viewing_of_its_own(segment):
    other = make_segments(segment.camera, T0 + timedelta(seconds=4), 1, seconds=4)[0]
    other.abs_path.write_bytes(b"x" * 1000)
    one, two = Client(), Client()
    one.force_login(user_with("Investigator"))
    two.force_login(User.objects.create_superuser("chief", password="x-long-pass-phrase"))
    watch(one, segment, ["bytes=0-"])
    watch(two, segment, ["bytes=0-99"])
    watch(one, other, ["bytes=0-"])
    assert close_viewings() == 3
    seen = sorted((e.username, e.target, e.detail["bytes_sent"]) for e in plays())
    assert seen == sorted(
        [
            ("chief", f"segment {segment.pk}", 100),
            ("investigator", f"segment {other.pk}", 1000),
            ("investigator", f"segment {segment.pk}", SIZE),
        ]
    )


def test_watching_again_after_a_pause_is_another_viewing(client, segment):
    client.force_login(user_with("Investigator"))
    watch(client, segment, ["bytes=0-"])
    Viewing.objects.update(last_at=T0)  # idle for longer than viewings.IDLE
    watch(client, segment, ["bytes=0-99"])
    [first] = plays()  # the new request closed the earlier viewing
    assert first.detail["bytes_sent"] == SIZE and first.detail["to"].startswith("2026-11-23")
    close_viewings()
    assert [e.detail["bytes_sent"] for e in plays()] == [SIZE, 100]


def test_a_viewing_a_killed_web_process_left_is_written_once(segment, rf):
    """kill -9 of the web process mid-stream: the response is never closed. The viewing was
    committed before its first byte, so the every-minute task still writes its one entry."""
    request = rf.get(reverse("recordings:media", args=[segment.pk]))
    request.user = user_with("Investigator")
    response = views.media(request, segment_id=segment.pk)
    stream = iter(response)
    next(stream)  # a block went out; then the process died (nothing closes the response)
    assert Viewing.objects.count() == 1 and plays() == []
    later = datetime.now(UTC) + viewings.IDLE + timedelta(seconds=1)
    assert viewings.close_idle(now=later) == 1
    assert viewings.close_idle(now=later) == 0  # a second worker finds nothing left
    [event] = plays()
    assert event.detail["requests"] == 1 and event.target == f"segment {segment.pk}"
    # The cluster does it every minute.
    assert tasks.SCHEDULES["close idle viewings"][0] == "recordings.tasks.close_viewings_task"
    Viewing.objects.create(action="play", target="segment 9", started_at=T0, last_at=T0)
    assert tasks.close_viewings_task() == "1 viewing(s) audited"


def test_bytes_are_counted_while_a_response_streams(segment, rf, monkeypatch):
    monkeypatch.setattr(viewings, "PROGRESS_SECONDS", 0.0)
    request = rf.get(reverse("recordings:media", args=[segment.pk]))
    request.user = user_with("Investigator")
    response = views.media(request, segment_id=segment.pk)
    stream = iter(response)
    next(stream), next(stream), next(stream)
    # Two blocks were written in full before the server asked for the third: counted already,
    # so a kill now loses none of them.
    assert Viewing.objects.get().bytes_sent == 2 * CHUNK
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    assert Viewing.objects.get().bytes_sent == 2 * CHUNK
    close_viewings()
    assert plays()[0].detail["bytes_sent"] == 2 * CHUNK
