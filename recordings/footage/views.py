"""Footage pages: browse a camera's day, play, download, hold. All behind the admin login."""

import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit import log, roles, viewings
from audit.models import AuditEvent
from cameras.models import Camera
from crimebox.admin_base import page_context
from crimebox.display import box_window

from ..holds import HoldError, place_hold
from ..models import Segment
from ..validators import EARLIEST
from .media import Audit, ranged_response
from .playlist import day_playlist
from .thumbnails import audit_still, thumbnail
from .timeline import day_bounds, day_timeline, ticks

View = Callable[..., HttpResponseBase]


def footage_view(perm: str = roles.VIEW_FOOTAGE) -> Callable[[View], View]:
    """Login through the admin (redirect), then the permission (403)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return admin.site.admin_view(wrapped)

    return decorator


def on_disk_segment(pk: int, recording: bool = True) -> Segment:
    """A segment by id whose file is on disk inside RECORDINGS_DIR, or 404.

    `recording`: also the segment FFmpeg is writing now (it plays up to its last fragment).
    """
    segment = get_object_or_404(Segment.objects.select_related("camera"), pk=pk)
    path = segment.abs_path.resolve()
    root = Path(settings.RECORDINGS_DIR).resolve()
    if segment.is_recording and not recording:
        raise Http404(
            "This segment is still being recorded; its original can be downloaded "
            "once it closes and is hashed."
        )
    if not segment.is_playable or root not in path.parents or not path.is_file():
        raise Http404("This segment's file is not on the box (deleted by retention or missing).")
    return segment


@footage_view()
def index(request: HttpRequest) -> HttpResponse:
    """The cameras; with a date and time, what each camera has at that moment."""
    today = timezone.localdate()
    raw_day = request.GET.get("date", "")
    the_day = parse_day(raw_day) or today
    if raw_day and parse_day(raw_day) is None:
        messages.error(request, not_a_day(raw_day))
    raw_time = request.GET.get("time", "")
    moment = parse_moment(the_day, raw_time)
    if raw_time and moment is None:
        messages.error(request, not_a_time(raw_time))
    cameras = list(Camera.objects.all())
    if moment is not None:
        local = timezone.localtime(moment)
        for camera in cameras:
            camera.found = find_moment(  # type: ignore[attr-defined]  # for the template
                moment, day_timeline(camera, local.date(), hour=local.hour)
            )
        log.record(
            AuditEvent.Action.VIEW, request=request, target=f"all cameras at {local:%Y-%m-%d %H:%M}"
        )
    return render(
        request,
        "recordings/index.html",
        page_context(
            request,
            title="Footage",
            cameras=cameras,
            today=today,
            day=the_day,
            moment=moment,
            zone=timezone.get_current_timezone_name(),
        ),
    )


@footage_view()
def camera_day(request: HttpRequest, camera_id: int, day: str | None = None) -> HttpResponseBase:
    camera = get_object_or_404(Camera, pk=camera_id)
    if request.GET.get("date") or request.GET.get("time"):
        return jump(request, camera)
    the_day = parse_day(day) if day else timezone.localdate()
    if the_day is None:
        raise Http404(not_a_day(day))
    hour = parse_hour(request.GET.get("hour"))
    if request.method == "POST":
        return hold(request, camera, the_day)
    timeline = day_timeline(camera, the_day, hour=hour)
    moment = parse_moment(the_day, request.GET.get("at", ""))
    log.record(
        AuditEvent.Action.VIEW,
        request=request,
        camera=camera,
        target=f"camera {camera.pk} day {the_day}" + (f" hour {hour}" if hour is not None else ""),
    )
    title = f"{camera.name} — {the_day:%A %Y-%m-%d}" + (
        f", {hour:02d}:00–{hour + 1:02d}:00" if hour is not None else ""
    )
    return render(
        request,
        "recordings/day.html",
        page_context(
            request,
            title=title,
            camera=camera,
            day=the_day,
            hour=hour,
            prev_day=the_day - timedelta(days=1),
            next_day=the_day + timedelta(days=1),
            prev_hour=hour - 1 if hour else None,
            next_hour=hour + 1 if hour is not None and hour < 23 else None,
            can_hold=roles.may_hold(request.user),
            can_export=roles.may_export(request.user),
            moment=moment,
            found=find_moment(moment, timeline) if moment else None,
            **timeline,
            **positions(timeline, moment),
            hold_window=hold_window(request, timeline, moment),
        ),
    )


def positions(
    timeline: dict[str, Any], moment: datetime | None, now: datetime | None = None
) -> dict[str, Any]:
    """Where the asked-for moment and "now" fall on the drawn window, in percent (or None)."""
    start, end = timeline["day_start"], timeline["day_end"]
    now = now or timezone.now()

    def x(t: datetime) -> float:
        return 100 * (t - start).total_seconds() / (end - start).total_seconds()

    return {
        "moment_x": x(moment) if moment and start <= moment < end else None,
        "later_x": x(now) if start <= now < end else (0.0 if now < start else None),
        "window_ms": [int(start.timestamp() * 1000), int(end.timestamp() * 1000)],
    }


def hold_window(
    request: HttpRequest, timeline: dict[str, Any], moment: datetime | None
) -> tuple[str, str]:
    """The hold form's default: the shown day (or hour) whole, end exclusive at the next
    midnight (not 23:59, which misses the last minute); ?from=&to= (a timeline selection,
    ISO) when given."""
    start, end = timeline["day_start"], timeline["day_end"]
    first, last = (aware_or_none(request.GET.get(k, "")) for k in ("from", "to"))
    if first is not None and last is not None and first < last:
        start, end = first, last
    return (
        f"{timezone.localtime(start):%Y-%m-%d %H:%M:%S}",
        f"{timezone.localtime(end):%Y-%m-%d %H:%M:%S}",
    )


def parse_day(text: str | None) -> date | None:
    """A YYYY-MM-DD day the box can have footage of, else None: not a date, no such date
    (2026-02-30 raises in parse_date), before 2000 or more than a year ahead (the day's
    neighbours and time-zone conversions of 0001-01-01 or 9999-12-31 overflow)."""
    try:
        day = parse_date(text or "")
    except ValueError:
        return None
    if day is None or not EARLIEST.date() <= day <= timezone.localdate() + timedelta(days=366):
        return None
    return day


def not_a_day(text: str | None) -> str:
    return (
        f"'{(text or '')[:20]}' is not a day the box can have footage of: give a date as "
        "YYYY-MM-DD, from 2000 to next year."
    )


def parse_moment(the_day: date, text: str) -> datetime | None:
    """ "14:05", "1405", "14:05:30" or "140530" on the day, in the box's zone; None if absent
    or not a time of day."""
    digits = text.strip().replace(":", "")
    if len(digits) not in (4, 6) or not (digits.isascii() and digits.isdigit()):  # "²" isdigit()
        return None
    hour, minute, second = int(digits[:2]), int(digits[2:4]), int(digits[4:] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return timezone.make_aware(
        datetime.combine(the_day, time(hour, minute, second)), timezone.get_current_timezone()
    )


def not_a_time(text: str) -> str:
    return f"'{text[:20]}' is not a time of day: give it as HH:MM or HH:MM:SS (24-hour)."


def find_moment(moment: datetime, timeline: dict, now: datetime | None = None) -> dict:
    """The segment that holds the moment (and the offset into it), the gap that explains why
    there is none, or that the moment is still to come ("later")."""
    if moment > (now or timezone.now()):
        return {"later": True}
    # Latest start first: at a cut the next segment may begin a few ms before this one ends.
    for segment in sorted(timeline["segments"], key=lambda s: s.start, reverse=True):
        if segment.is_playable and segment.start <= moment < segment.end:
            return {"segment": segment, "offset": (moment - segment.start).total_seconds()}
    for gap in timeline["gaps"]:
        if gap.start <= moment and (gap.end is None or moment < gap.end):
            return {"gap": gap}
    return {}


def parse_hour(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= 23:
        raise Http404("Not an hour of the day (0 to 23).")
    return int(raw)


def jump(request: HttpRequest, camera: Camera) -> HttpResponseBase:
    """A date and time typed by the user: that hour of that day, scrolled to the time."""
    the_day = parse_day(request.GET.get("date", "")) or timezone.localdate()
    url = reverse("recordings:day", args=[camera.pk, the_day.isoformat()])
    raw_time = request.GET.get("time", "")
    moment = parse_moment(the_day, raw_time)
    if moment is None:
        if raw_time:
            messages.error(request, not_a_time(raw_time))
        return redirect(url)
    local = timezone.localtime(moment)
    return redirect(f"{url}?hour={local.hour}&at={local:%H%M%S}#moment")


def hold(request: HttpRequest, camera: Camera, the_day: date) -> HttpResponseBase:
    if not roles.may_hold(request.user):
        raise PermissionDenied
    tz = timezone.get_current_timezone()
    try:
        start, end = (parse_datetime(request.POST.get(k, "")) for k in ("start", "end"))
        if start is None or end is None:
            raise ValueError("no time")
        start, end = timezone.make_aware(start, tz), timezone.make_aware(end, tz)
        place_hold(
            camera,
            start,
            end,
            request.POST.get("reason", ""),
            user=request.user,
            request=request,
            case_number=request.POST.get("case_number", ""),
        )
        messages.success(request, f"Legal hold placed on {camera}: {box_window(start, end)}.")
    except (ValueError, OverflowError) as e:
        messages.error(
            request,
            str(e)
            if isinstance(e, HoldError)
            else "Give the hold's start and end as date and time.",
        )
    return redirect("recordings:day", camera.pk, the_day.isoformat())


@footage_view()
def player(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = on_disk_segment(segment_id)
    try:
        offset = float(request.GET.get("t", "0"))
    except ValueError:
        offset = 0.0
    offset = min(max(0.0, offset), segment.duration or offset) if math.isfinite(offset) else 0.0
    around = Segment.objects.filter(camera=segment.camera).playable()
    day = timezone.localtime(segment.start).date()
    # One entry per viewing, with the file requests that follow (audit/viewings.py).
    viewings.touch(request, camera=segment.camera, target=f"segment {segment.pk}")
    return render(
        request,
        "recordings/player.html",
        page_context(
            request,
            title=f"Play {segment.camera} — {timezone.localtime(segment.start):%A %Y-%m-%d}",
            segment=segment,
            day=day,
            offset=offset,
            prev=around.filter(start__lt=segment.start).order_by("-start").first(),
            next=around.filter(start__gt=segment.start).order_by("start").first(),
            playlist=day_playlist(segment.camera, day),
            scrub_ticks=[
                t
                for t in ticks(*day_bounds(day), zoomed=False)
                if t.hour is not None and t.hour % 3 == 0
            ],
        ),
    )


@footage_view()
def played(request: HttpRequest, segment_id: int) -> HttpResponse:
    """The player went on to this segment (the next one, or one picked on the scrubber): the
    audit trail records every segment played, not only the page's first."""
    if request.method != "POST":
        raise Http404("POST only.")
    segment = on_disk_segment(segment_id)
    viewings.touch(request, camera=segment.camera, target=f"segment {segment.pk}")
    return HttpResponse(status=204)


@footage_view()
def playlist(request: HttpRequest, camera_id: int, day: str) -> HttpResponse:
    """The day's segments and gaps for the player going on past the end of the page's day."""
    camera = get_object_or_404(Camera, pk=camera_id)
    the_day = parse_day(day)
    if the_day is None:
        raise Http404(not_a_day(day))
    log.record(
        AuditEvent.Action.VIEW,
        request=request,
        camera=camera,
        target=f"camera {camera.pk} day {the_day} (player playlist)",
    )
    return JsonResponse(day_playlist(camera, the_day))


@footage_view()
def media(request: HttpRequest, segment_id: int) -> HttpResponseBase:
    segment = on_disk_segment(segment_id)
    # The player's requests (or anything else's) are one viewing per person and segment,
    # audited once with the bytes they took (audit/viewings.py).
    audit = Audit(
        AuditEvent.Action.PLAY,
        target=f"segment {segment.pk}",
        camera=segment.camera,
        viewing=True,
    )
    return ranged_response(request, segment.abs_path, audit=audit)


@footage_view()
def download(request: HttpRequest, segment_id: int) -> HttpResponseBase:
    segment = on_disk_segment(segment_id, recording=False)
    audit = Audit(
        AuditEvent.Action.DOWNLOAD,
        target=f"segment {segment.pk}",
        camera=segment.camera,
        detail={"sha256": segment.sha256},
    )
    return ranged_response(
        request,
        segment.abs_path,
        download_name=f"{segment.camera.slug}-{segment.abs_path.name}",
        audit=audit,
    )


@footage_view()
def thumb(request: HttpRequest, segment_id: int) -> FileResponse:
    segment = on_disk_segment(segment_id)
    path = thumbnail(segment)
    if path is None:
        raise Http404("No thumbnail.")
    audit_still(request, segment.camera, "thumbnail", segment=segment.pk)
    response = FileResponse(open(path, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


def aware_or_none(text: str) -> datetime | None:
    try:
        value = parse_datetime(text)
    except ValueError:
        return None
    return value if value is not None and timezone.is_aware(value) else None
