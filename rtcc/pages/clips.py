"""Clips on request, the pages: ask a box for a window (investigators), follow the jobs (anyone
who sees the fleet's state), stop an open one (investigators). The checks, the signing, the
ledger and the audit entries are rtcc/retrieval.py's, the same functions `rtcc_request_clip`
and `rtcc_jobs` use; the download of a verified package is rtcc/pages/package.py.

The jobs list and a job's page refresh their live part every few seconds while a job is open
(rtcc/static/rtcc/clips.js asks for `?part=1`).
"""

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_http_methods, require_POST

from .. import retrieval, roles
from ..models import Box, Camera, ClipJob
from ..retrieval_mongo import RetrievalLinkError
from .access import freshness, page, render_page
from .where import TIME_FORMATS

JOBS_PER_PAGE = 50
DEFAULT_CLIP = timedelta(minutes=15)
FORM_TIME = "%Y-%m-%dT%H:%M:%S"  # what a datetime-local input takes, seconds included


class ClipForm(forms.Form):
    box = forms.CharField(max_length=100)
    camera = forms.CharField(max_length=100, help_text="The camera's name on its box.")
    start = forms.DateTimeField(input_formats=TIME_FORMATS)
    end = forms.DateTimeField(input_formats=TIME_FORMATS)
    case_number = forms.CharField(max_length=retrieval.CASE_MAX)
    reason = forms.CharField(max_length=retrieval.REASON_MAX, widget=forms.Textarea)
    # The box works through its open requests by priority, then age (sync/upload.py).
    priority = forms.TypedChoiceField(
        choices=[(0, "Normal"), (1, "Urgent")], coerce=int, initial=0, required=False
    )


def prefill(params: Any, now: datetime) -> dict[str, str]:
    """What a link may fill in (the where-and-when hit, the box page's camera); the last
    15 minutes when it names no window."""
    end = timezone.localtime(now).replace(microsecond=0)
    initial = {
        "start": f"{end - DEFAULT_CLIP:{FORM_TIME}}",
        "end": f"{end:{FORM_TIME}}",
        "priority": "0",
    }
    for name in ("box", "camera", "start", "end"):
        if params.get(name):
            initial[name] = str(params[name])[:100]
    return initial


def ask(request: HttpRequest, form: ClipForm) -> ClipJob | None:
    """The request through retrieval.request_clip; its refusal is the form's error."""
    data = form.cleaned_data
    try:
        return retrieval.request_clip(
            box_id=data["box"],
            camera=data["camera"],
            start=data["start"],
            end=data["end"],
            case_number=data["case_number"],
            reason=data["reason"],
            user=request.user.get_username(),
            priority=data.get("priority") or 0,
            http_request=request,
        )
    except retrieval.RequestError as e:
        form.add_error(None, str(e))
    except RetrievalLinkError as e:
        form.add_error(None, f"The ledger cannot be reached, so nothing was sent: {e}")
    return None


@page(roles.CLIP_REQUEST)
@require_http_methods(["GET", "POST"])
def clip_request(request: HttpRequest) -> HttpResponseBase:
    if request.method == "POST":
        form = ClipForm(request.POST)
        if form.is_valid():
            job = ask(request, form)
            if job is not None:
                messages.success(request, f"Request {job.request} sent to box {job.box_id}.")
                return redirect(job)
    else:
        form = ClipForm(initial=prefill(request.GET, timezone.now()))
    box_id = str(form["box"].value() or "")
    context = {
        "title": "Request a clip",
        "form": form,
        "box_choices": list(Box.objects.enrolled().values_list("box_id", flat=True)),
        "camera_choices": list(
            Camera.objects.filter(box__box_id=box_id)
            .order_by("name")
            .values_list("name", flat=True)
        ),
        "tz": timezone.get_current_timezone_name(),
        "max_minutes": settings.RTCC_CLIP_MAX_MINUTES,
    }
    return render_page(
        request, "rtcc/clip_request.html", context, status=400 if form.errors else 200
    )


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def state_words(job: ClipJob, box: Box | None, now: datetime) -> str:
    """What a person needs to know about a job, in one sentence."""
    State = ClipJob.State
    if job.state == State.QUEUED:
        words = _waiting(job, box, now)
    elif job.state == State.UPLOADING:
        words = _uploading(job)
    elif job.state == State.VERIFYING and job.report.get("waiting"):
        words = f"Verifying: waiting, {job.report['waiting']}"
    elif job.state == State.REFUSED:
        words = f"Refused by the box: {job.box_reason or 'it gave no reason'}"
    elif job.state == State.FAILED:
        words = f"Failed on the box: {job.box_reason or 'it gave no reason'}"
    elif job.state == State.CANCELLED:
        words = f"Cancelled{f' by {job.cancelled_by}' if job.cancelled_by else ' on the box'}"
    elif job.state == State.ALERT:
        words = f"Integrity alert: {job.problem}. Kept for examination, never offered"
    elif job.state == State.READY:
        words = "Ready: verified by the datacenter"
    else:
        words = job.get_state_display()
    if job.state in ClipJob.OPEN and job.cancelled_by:
        words += f" (cancellation sent by {job.cancelled_by})"
    return words


def _waiting(job: ClipJob, box: Box | None, now: datetime) -> str:
    asked = f"asked {timesince(job.created_at, now)} ago"
    if box is None or box.last_contact_at is None:
        return f"Waiting for the box, which has never checked in; {asked}"
    seen = f"last check-in {timesince(box.last_contact_at, now)} ago"
    if box.state in (Box.State.DARK, Box.State.NEVER_SEEN):
        return f"Waiting for the box, which is dark ({seen}); {asked}"
    return f"Queued: the box has not answered yet ({seen}); {asked}"


def _uploading(job: ClipJob) -> str:
    words = f"Uploading {job.percent} %"
    if job.package_size:
        words += f" ({filesizeformat(job.bytes_received)} of {filesizeformat(job.package_size)})"
    rate, eta = job.rate(), job.eta_seconds()
    if rate:
        words += f" at {filesizeformat(rate)}/s"
    if eta is not None:
        words += f", about {duration(eta)} left"
    return words


def _boxes(jobs: list[ClipJob]) -> dict[str, Box]:
    ids = {j.box_id for j in jobs}
    return {b.box_id: b for b in Box.objects.filter(box_id__in=ids)}


@page(roles.CLIPS)
def clips(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    paginator = Paginator(ClipJob.objects.order_by("-created_at", "-pk"), JOBS_PER_PAGE)
    page_obj = paginator.get_page(request.GET.get("page"))
    jobs = list(page_obj.object_list)
    boxes = _boxes(jobs)
    rows = [(j, state_words(j, boxes.get(j.box_id), now)) for j in jobs]
    context: dict[str, Any] = {
        "rows": rows,
        "page_obj": page_obj,
        "open": any(j.state in ClipJob.OPEN for j in jobs),
    }
    if request.GET.get("part"):
        return render(request, "rtcc/_clip_rows.html", context)
    context |= {"title": "Clips", "fresh": freshness(now)}
    return render_page(request, "rtcc/clips.html", context)


@page(roles.CLIPS)
def clip(request: HttpRequest, request_id: str) -> HttpResponse:
    now = timezone.now()
    job = get_object_or_404(ClipJob, request=request_id)
    box = Box.objects.filter(box_id=job.box_id).first()
    context: dict[str, Any] = {
        "job": job,
        "box": box,
        "words": state_words(job, box, now),
        "open": job.state in ClipJob.OPEN,
        "may_cancel": request.user.has_perm(roles.CLIP_CANCEL),
        "may_download": request.user.has_perm(roles.CLIP_REQUEST),
    }
    if request.GET.get("part"):
        return render(request, "rtcc/_clip_job.html", context)
    context |= {"title": f"Clip {job.case_number}", "fresh": freshness(now)}
    return render_page(request, "rtcc/clip.html", context)


@page(roles.CLIP_CANCEL)
@require_POST
def clip_cancel(request: HttpRequest, request_id: str) -> HttpResponseBase:
    job = get_object_or_404(ClipJob, request=request_id)
    try:
        retrieval.cancel(job, request.user.get_username(), http_request=request)
    except retrieval.RequestError as e:
        messages.error(request, f"Not cancelled: {e}")
    except RetrievalLinkError as e:
        messages.error(request, f"Not cancelled: the ledger cannot be reached ({e}). Try again.")
    else:
        messages.success(
            request, "Cancellation sent: the box stops before its next chunk and says so."
        )
    return redirect(job)
