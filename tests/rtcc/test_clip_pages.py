"""The clip pages: request (from where-and-when and a box's camera), the jobs list and a job's
page with its state in words, cancel, and the download of a verified package only (Range,
streamed, audited). Jobs are made as rows; only sending a request or a cancellation needs the
ledger (FerretDB)."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from crimebox import retrieval as proto
from rtcc import roles
from rtcc.models import Box, ClipJob
from rtcc.pages import package
from rtcc.retrieval_verify import quarantine_dir
from tests.rtcc.pagekit import (  # noqa: F401
    PACKAGE,
    console_site,
    make_box,
    make_camera,
    make_clip_job,
    make_ready_job,
    make_segment,
    make_user,
    now,
)

pytestmark = [pytest.mark.usefixtures("console_site"), pytest.mark.django_db]


def as_role(role: str) -> Client:
    name = role.split()[-1]
    user = User.objects.filter(username=name).first() or make_user(name, role)
    client = Client()
    client.force_login(user)
    return client


def window(minutes: int = 2, **over) -> dict:
    t = now() - timedelta(hours=1)
    data = {
        "box": "box-1",
        "camera": "Cam 1",
        "start": f"{t:%Y-%m-%dT%H:%M:%S}",
        "end": f"{t + timedelta(minutes=minutes):%Y-%m-%dT%H:%M:%S}",
        "case_number": "26-004512",
        "reason": "hit and run\non Main St",
        "priority": "1",
    }
    return data | over


def test_where_and_when_links_each_camera_to_a_prefilled_request():
    t = now().replace(second=0)
    cam = make_camera(make_box("box-1"), 1, name="Main St")
    make_segment(cam, 1, t - timedelta(minutes=50))
    client = as_role(roles.INVESTIGATOR)
    search = {"start": f"{t - timedelta(hours=1):%Y-%m-%dT%H:%M}", "end": f"{t:%Y-%m-%dT%H:%M}"}
    page = client.get(reverse("rtcc:where"), search).content.decode()
    link = html.unescape(re.search(r'class="where-request" href="([^"]+)"', page)[1])
    form = client.get(link).content.decode()
    assert 'value="box-1"' in form and 'value="Main St"' in form
    assert f'value="{t - timedelta(hours=1):%Y-%m-%dT%H:%M:%S}"' in form
    assert f'value="{t:%Y-%m-%dT%H:%M:%S}"' in form
    assert '<option value="Main St">' in form  # the box's cameras to choose from
    box_page = client.get(reverse("rtcc:box", args=["box-1"])).content.decode()
    assert "?box=box-1&amp;camera=Main%20St" in box_page
    # An operator sees neither link (no request for that role).
    assert (
        b"where-request"
        not in as_role(roles.OPERATOR).get(reverse("rtcc:box", args=["box-1"])).content
    )
    assert (
        b"box-request"
        not in as_role(roles.OPERATOR).get(reverse("rtcc:box", args=["box-1"])).content
    )


def test_a_request_is_signed_into_the_ledger_and_leads_to_its_job(rtcc_ledger):
    make_camera(make_box("box-1"), 1)
    client = as_role(roles.INVESTIGATOR)
    response = client.post(reverse("rtcc:clip_request"), window())
    job = ClipJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.user == "investigator" and job.priority == 1 and job.reason.endswith("Main St")
    sent = rtcc_ledger["requests"].find_one({"_id": proto.request_doc_id(job.request)})
    assert sent["user"] == "investigator" and sent["case_number"] == "26-004512"
    entry = AuditEvent.objects.get(target=f"rtcc request {job.request}")
    assert entry.user.username == "investigator" and entry.action == "export"
    page = client.get(response["Location"]).content.decode()
    assert f"Request {job.request} sent to box box-1" in page
    assert "Queued: the box has not answered yet" in page


@pytest.mark.parametrize(
    "over, message",
    [
        ({"case_number": "26\x07-1"}, "control character (U+0007)"),
        ({"start": "2016-01-01T00:00:00"}, "longer than 60 minutes"),
        ({"end": "2016-01-01T00:00:00"}, "must be after its start"),
        ({"camera": "South"}, "no camera named &#x27;South&#x27;"),
        ({"box": "box-99"}, "No box &#x27;box-99&#x27;"),
        ({"start": "yesterday"}, "Enter a valid date/time"),
        ({"reason": ""}, "This field is required"),
    ],
)
def test_a_bad_request_is_a_form_error_that_keeps_the_input(over, message):
    make_camera(make_box("box-1"), 1)
    data = window(**over)
    response = as_role(roles.INVESTIGATOR).post(reverse("rtcc:clip_request"), data)
    body = response.content.decode()
    assert response.status_code == 400 and message in body
    assert f'value="{html.escape(data["camera"])}"' in body
    assert f">{html.escape(data['reason'])}</textarea>" in body
    assert not ClipJob.objects.exists()


def test_a_request_with_the_ledger_down_says_nothing_was_sent(settings):
    settings.RTCC_URI, settings.RTCC_TIMEOUT_SECONDS = "mongodb://127.0.0.1:9/", 0.5
    make_camera(make_box("box-1"), 1)
    response = as_role(roles.INVESTIGATOR).post(reverse("rtcc:clip_request"), window())
    assert response.status_code == 400
    assert b"The ledger cannot be reached, so nothing was sent" in response.content
    assert not ClipJob.objects.exists()


def test_the_jobs_list_says_each_state_in_words(django_assert_max_num_queries):
    t = now()
    make_box("box-1", state=Box.State.DARK, last_contact_at=t - timedelta(hours=3))
    make_box("box-2", last_contact_at=t - timedelta(minutes=1))
    make_clip_job("1" * 32)
    make_clip_job("2" * 32, box_id="box-2", at=t - timedelta(minutes=5))
    make_clip_job(
        "3" * 32,
        ClipJob.State.UPLOADING,
        box_id="box-2",
        chunks_total=40,
        chunks_received=10,
        bytes_received=10 * 2**20,
        package_size=40 * 2**20,
        first_chunk_at=t - timedelta(seconds=40),
        progress_at=t,
    )
    make_clip_job("4" * 32, ClipJob.State.REFUSED, box_reason="the window is outside retention")
    make_clip_job("5" * 32, ClipJob.State.ALERT, problem="chunk 3 is missing")
    make_clip_job("6" * 32, ClipJob.State.CANCELLED, cancelled_by="investigator")
    make_clip_job("7" * 32, ClipJob.State.BUILDING, cancelled_by="sergeant")
    make_ready_job("8" * 32)
    client = as_role(roles.OPERATOR)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("rtcc:clips"))
    rows = {
        m[1]: re.sub(r"\s+", " ", html.unescape(m[2]))
        for m in re.finditer(
            r'<tr id="clip-(\w+)" class="clip-\w+">(.*?)</tr>', response.content.decode(), re.S
        )
    }
    assert (
        "Waiting for the box, which is dark (last check-in 3 hours ago); asked 2 hours ago"
        in rows["1" * 32]
    )
    assert (
        "Queued: the box has not answered yet (last check-in 1 minute ago); asked 5 minutes ago"
        in rows["2" * 32]
    )
    assert (
        "Uploading 25 % (10.0 MB of 40.0 MB) at 256.0 KB/s, about 2 min 0 s left" in rows["3" * 32]
    )
    assert "Refused by the box: the window is outside retention" in rows["4" * 32]
    assert (
        "Integrity alert: chunk 3 is missing. Kept for examination, never offered" in rows["5" * 32]
    )
    assert "Cancelled by investigator" in rows["6" * 32]
    assert "Building on the box (cancellation sent by sergeant)" in rows["7" * 32]
    assert "Ready: verified by the datacenter" in rows["8" * 32]
    assert 'data-open="1"' in response.content.decode()
    assert b"clip-new" not in response.content  # operators do not request
    # The live part alone (what clips.js swaps in), and closed when nothing is open.
    part = client.get(reverse("rtcc:clips"), {"part": "1"}).content.decode()
    assert part.startswith('<div id="clip-live" data-open="1">') and "<html" not in part
    ClipJob.objects.exclude(state__in=["ready", "alert", "refused", "cancelled"]).delete()
    assert 'data-open="0"' in client.get(reverse("rtcc:clips"), {"part": "1"}).content.decode()


def test_a_ready_job_shows_its_sha256_report_and_download_to_investigators_only():
    job = make_ready_job()
    page = as_role(roles.INVESTIGATOR).get(job.get_absolute_url()).content.decode()
    assert "5" * 64 in page and "3 source segment(s) match" in page
    assert reverse("rtcc:clip_download", args=[job.request]) in page
    assert 'id="clip-cancel"' not in page  # finished: nothing to cancel
    operator = as_role(roles.OPERATOR).get(job.get_absolute_url()).content.decode()
    assert "5" * 64 in operator and "clip-download" not in operator


def test_an_alert_offers_nothing():
    path = quarantine_dir() / ("c" * 32 + ".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PACKAGE)
    job = make_clip_job(
        "c" * 32,
        ClipJob.State.ALERT,
        path=str(path),
        problem="the assembled package's SHA-256 is 00…, not the box's",
        report={"checks": ["closing document matches"], "problem": "the SHA-256 differs"},
    )
    client = as_role(roles.INVESTIGATOR)
    page = client.get(job.get_absolute_url()).content.decode()
    assert (
        "Integrity alert" in page and "the SHA-256 differs" in page and "clip-download" not in page
    )
    assert client.get(reverse("rtcc:clip_download", args=[job.request])).status_code == 404
    # Even a row claiming READY is not served from the quarantine (or from outside the store).
    ClipJob.objects.filter(pk=job.pk).update(state=ClipJob.State.READY)
    assert client.get(reverse("rtcc:clip_download", args=[job.request])).status_code == 404
    ClipJob.objects.filter(pk=job.pk).update(path="/etc/passwd")
    assert client.get(reverse("rtcc:clip_download", args=[job.request])).status_code == 404
    assert not AuditEvent.objects.filter(action="download").exists()


def test_download_streams_the_package_with_ranges_and_is_audited(rf):
    job = make_ready_job()
    client = as_role(roles.INVESTIGATOR)
    url = reverse("rtcc:clip_download", args=[job.request])
    whole = client.get(url)
    assert whole.status_code == 200 and whole.streaming
    assert whole["Content-Disposition"] == f'attachment; filename="box-1_{job.request}.zip"'
    assert whole["Content-Length"] == str(len(PACKAGE)) and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == PACKAGE
    part = client.get(url, headers={"Range": "bytes=70000-"})
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 70000-76799/{len(PACKAGE)}"
    assert b"".join(part.streaming_content) == PACKAGE[70000:]
    assert client.get(url, headers={"Range": "bytes=90000-"}).status_code == 416
    head = client.head(url)
    assert head.status_code == 200 and head["Content-Length"] == str(len(PACKAGE))
    entries = list(AuditEvent.objects.filter(action="download").order_by("sequence"))
    assert [e.detail["bytes_sent"] for e in entries] == [len(PACKAGE), 6800]
    assert entries[0].user.username == "investigator" and entries[0].detail["result"] == "sent"
    assert (
        entries[0].detail["rtcc_request"] == job.request
        and entries[1].detail["range"] == "70000-76799"
    )
    # A download cut short says so. The view itself, as the WSGI server sees it (the test
    # client would read it to the end); the server closes the response without the
    # request_finished handler that would close the test's database connection.
    request = rf.get(url)
    request.user = User.objects.get(username="investigator")
    cut = package.clip_download(request, request_id=job.request)
    next(iter(cut))
    request_finished.disconnect(close_old_connections)
    try:
        cut.close()
    finally:
        request_finished.connect(close_old_connections)
    last = AuditEvent.objects.filter(action="download").latest("sequence")
    assert last.detail["result"] == "interrupted" and last.detail["bytes_sent"] == 65536


def test_forged_or_unready_jobs_are_404():
    make_clip_job("d" * 32)
    client = as_role(roles.INVESTIGATOR)
    for name in ("rtcc:clip", "rtcc:clip_download"):
        assert client.get(reverse(name, args=["..%2F..%2Fetc%2Fpasswd"])).status_code == 404
        assert client.get(reverse(name, args=["f" * 32])).status_code == 404
    assert client.get(reverse("rtcc:clip_download", args=["d" * 32])).status_code == 404
    assert client.post(reverse("rtcc:clip_cancel", args=["f" * 32])).status_code == 404


def test_cancel_is_a_post_by_an_investigator_on_an_open_job(rtcc_ledger):
    job = make_clip_job("e" * 32, ClipJob.State.UPLOADING)
    url = reverse("rtcc:clip_cancel", args=[job.request])
    client = as_role(roles.INVESTIGATOR)
    assert client.get(url).status_code == 405
    assert as_role(roles.OPERATOR).post(url).status_code == 403
    page = client.post(url, follow=True).content.decode()
    assert "Cancellation sent" in page and "(cancellation sent by investigator)" in page
    job.refresh_from_db()
    assert job.cancelled_by == "investigator"
    assert rtcc_ledger["requests"].find_one({"request": job.request, "kind": "clip_cancel"})
    assert (
        AuditEvent.objects.get(target=f"rtcc request {job.request}").user.username == "investigator"
    )


def test_cancelling_a_finished_job_changes_nothing_and_says_why():
    job = make_ready_job()
    page = as_role(roles.INVESTIGATOR).post(
        reverse("rtcc:clip_cancel", args=[job.request]), follow=True
    )
    assert (
        "Not cancelled: The job is already finished (ready): there is nothing to cancel."
        in page.content.decode()
    )
    job.refresh_from_db()
    assert job.state == ClipJob.State.READY and job.cancelled_by == ""
    assert not AuditEvent.objects.filter(target=f"rtcc request {job.request}").exists()


def test_the_package_goes_out_in_bounded_reads(monkeypatch):
    """Never read whole into memory: 64 KiB at a time, whatever the package's size."""
    job = make_ready_job(data=b"x" * (3 * 2**20))
    sizes: list[int] = []
    real = package.RangeReader.read

    def spy(self, size=-1):
        sizes.append(size)
        return real(self, size)

    monkeypatch.setattr(package.RangeReader, "read", spy)
    response = as_role(roles.INVESTIGATOR).get(reverse("rtcc:clip_download", args=[job.request]))
    assert sum(len(b) for b in response.streaming_content) == 3 * 2**20
    assert set(sizes) == {64 * 1024} and len(sizes) == 3 * 16 + 1
