"""Footage pages: browse a camera's day, play, download, hold. All behind the admin login."""

from datetime import date, timedelta
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit import log
from audit.models import AuditEvent
from cameras.models import Camera

from .holds import HoldError, place_hold
from .media import ranged_response
from .models import Segment
from .thumbnails import thumbnail
from .timeline import day_timeline


def footage_view(perm="recordings.view_footage"):
    """Login through the admin (redirect), then the permission (403)."""
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)
        return admin.site.admin_view(wrapped)
    return decorator


def context(request, **kw):
    return {**admin.site.each_context(request), **kw}


def on_disk_segment(pk: int, recording: bool = True) -> Segment:
    """A segment by id whose file is on disk inside RECORDINGS_DIR, or 404.

    `recording`: also the segment FFmpeg is writing now (it plays up to its last fragment).
    """
    segment = get_object_or_404(Segment.objects.select_related("camera"), pk=pk)
    path = segment.abs_path.resolve()
    root = Path(settings.RECORDINGS_DIR).resolve()
    if segment.is_recording and not recording:
        raise Http404("This segment is still being recorded; its original can be downloaded "
                      "once it closes and is hashed.")
    if not segment.is_playable or root not in path.parents or not path.is_file():
        raise Http404("This segment's file is not on the box (deleted by retention or missing).")
    return segment


@footage_view()
def index(request):
    today = timezone.localdate()
    return render(request, "recordings/index.html", context(
        request, title="Footage", cameras=Camera.objects.all(), today=today))


@footage_view()
def camera_day(request, camera_id: int, day: str | None = None):
    camera = get_object_or_404(Camera, pk=camera_id)
    if request.GET.get("date") or request.GET.get("time"):
        return jump(request, camera)
    the_day = parse_date(day) if day else timezone.localdate()
    if the_day is None:
        raise Http404("Not a date (YYYY-MM-DD).")
    if request.method == "POST":
        return hold(request, camera, the_day)
    timeline = day_timeline(camera, the_day)
    log.record(AuditEvent.Action.VIEW, request=request, camera=camera,
               target=f"camera {camera.pk} day {the_day}")
    return render(request, "recordings/day.html", context(
        request, title=f"{camera.name} — {the_day:%A %Y-%m-%d}", camera=camera, day=the_day,
        prev_day=the_day - timedelta(days=1), next_day=the_day + timedelta(days=1),
        hours=range(24), can_hold=request.user.has_perm("recordings.hold_footage"),
        **timeline))


def jump(request, camera):
    the_day = parse_date(request.GET.get("date", "")) or timezone.localdate()
    url = reverse("recordings:day", args=[camera.pk, the_day.isoformat()])
    hhmm = request.GET.get("time", "")
    return redirect(f"{url}#t{hhmm.replace(':', '')[:4]}" if hhmm else url)


def hold(request, camera, the_day: date):
    if not request.user.has_perm("recordings.hold_footage"):
        raise PermissionDenied
    tz = timezone.get_current_timezone()
    try:
        start, end = (parse_datetime(request.POST.get(k, "")) for k in ("start", "end"))
        if start is None or end is None:
            raise ValueError("no time")
        start, end = timezone.make_aware(start, tz), timezone.make_aware(end, tz)
        place_hold(camera, start, end, request.POST.get("reason", ""), user=request.user,
                   request=request, case_number=request.POST.get("case_number", ""))
        messages.success(request, f"Legal hold placed on {camera} from {start:%H:%M} to "
                                  f"{end:%H:%M}.")
    except ValueError as e:
        messages.error(request, str(e) if isinstance(e, HoldError) else
                       "Give the hold's start and end as date and time.")
    return redirect("recordings:day", camera.pk, the_day.isoformat())


@footage_view()
def player(request, segment_id: int):
    segment = on_disk_segment(segment_id)
    around = Segment.objects.filter(camera=segment.camera, status__in=Segment.PLAYABLE)
    log.record(AuditEvent.Action.PLAY, request=request, camera=segment.camera,
               target=f"segment {segment.pk}")
    return render(request, "recordings/player.html", context(
        request, title=f"{segment.camera} {timezone.localtime(segment.start):%Y-%m-%d %H:%M:%S}",
        segment=segment, day=timezone.localtime(segment.start).date(),
        prev=around.filter(start__lt=segment.start).order_by("-start").first(),
        next=around.filter(start__gt=segment.start).order_by("start").first()))


@footage_view()
def media(request, segment_id: int):
    segment = on_disk_segment(segment_id)
    return ranged_response(request, segment.abs_path)


@footage_view()
def download(request, segment_id: int):
    segment = on_disk_segment(segment_id, recording=False)
    log.record(AuditEvent.Action.DOWNLOAD, request=request, camera=segment.camera,
               target=f"segment {segment.pk}", detail={"sha256": segment.sha256})
    return ranged_response(request, segment.abs_path,
                           download_name=f"{segment.camera.slug}-{segment.abs_path.name}")


@footage_view()
def thumb(request, segment_id: int):
    path = thumbnail(on_disk_segment(segment_id))
    if path is None:
        raise Http404("No thumbnail.")
    response = FileResponse(open(path, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


