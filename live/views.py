"""Live view pages (grid, player) and what the player fetches (status, playlist, segments,
stills). Every answer is one small file read or a few stats: cheap for sync workers, no
long-polling. All behind the admin login and `live.view_live`."""

import math
import re
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from audit import roles
from cameras.models import Camera
from crimebox.admin_base import page_context
from recordings import ffmpeg
from recordings.footage.thumbnails import audit_still
from recordings.models import Segment

from . import sessions, state
from .status import live_status, stream_kind
from .stills import StillBusy, content_type, still, still_source

PERM = roles.WATCH_LIVE
MEDIA_NAME = re.compile(r"^(init\.mp4|seg\d{6}\.m4s)$")


View = Callable[..., HttpResponseBase]


def live_page(view: View) -> View:
    """A page: the admin's login redirect, then the permission (403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(PERM):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return admin.site.admin_view(wrapped)


def live_data(view: View) -> View:
    """What scripts and players fetch: 403, never a redirect to an HTML login page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not (user.is_active and user.is_staff and user.has_perm(PERM)):
            return JsonResponse({"state": "refused", "message": "Not allowed."}, status=403)
        return view(request, *args, **kwargs)

    return never_cache(wrapped)


@live_page
def grid(request: HttpRequest) -> HttpResponse:
    cameras = list(Camera.objects.enabled())
    return render(request, "live/grid.html", page_context(request, title="Live", cameras=cameras))


@live_data
def grid_status(request: HttpRequest) -> HttpResponse:
    now = time.time()
    rows = []
    for camera in Camera.objects.enabled():
        live = (state.camera_state(camera.slug) or {}).get("state", "off")
        rows.append({"id": camera.pk, "status": camera.get_status_display(), "live": live,
                     "still": still_source(camera)})  # fmt: skip
    return JsonResponse({"cameras": rows, "service": state.supervisor_running(now)})


@live_page
def player(request: HttpRequest, camera_id: int) -> HttpResponseBase:
    camera = get_object_or_404(Camera, pk=camera_id)
    if camera.is_enabled:
        state.want(camera.slug, user=request.user.pk)  # FFmpeg starts while the page loads
    config = {
        "status_url": reverse("live:status", args=[camera.pk]),
        "playlist_url": reverse("live:playlist", args=[camera.pk]),
    }
    steer = camera.can_steer() and roles.may_steer(request.user)
    if steer:
        config["ptz_url"] = reverse("live:ptz", args=[camera.pk, "move"]).removesuffix("move")
        config["ptz_presets_url"] = reverse("live:ptz_presets", args=[camera.pk])
    return render(
        request,
        "live/player.html",
        page_context(
            request,
            title=f"Live: {camera.name}",
            camera=camera,
            config=config,
            status=live_status(camera),
            can_footage=roles.may_view_footage(request.user),
            can_steer=steer,
            can_save_preset=steer and roles.may_change_cameras(request.user),
        ),
    )


@live_data
def status(request: HttpRequest, camera_id: int) -> HttpResponseBase:
    camera = get_object_or_404(Camera, pk=camera_id)
    if camera.is_enabled:
        state.want(camera.slug, user=request.user.pk)  # the open player keeps it wanted
    return JsonResponse(live_status(camera))


@live_data
def playlist(request: HttpRequest, camera_id: int) -> HttpResponseBase:
    camera = get_object_or_404(Camera.objects.enabled(), pk=camera_id)
    state.want(camera.slug, user=request.user.pk)
    try:
        body = (state.stream_dir(camera.slug) / ffmpeg.LIVE_PLAYLIST).read_bytes()
    except FileNotFoundError:
        return HttpResponse("not live yet", status=404, content_type="text/plain")
    sessions.seen(request, camera, stream_kind(camera))
    return HttpResponse(body, content_type="application/vnd.apple.mpegurl")


@live_data
def media(request: HttpRequest, camera_id: int, name: str) -> HttpResponse:
    if not MEDIA_NAME.match(name):
        raise Http404
    camera = get_object_or_404(Camera.objects.enabled(), pk=camera_id)
    # Every byte of live video belongs to an audited session, opened by the playlist.
    if sessions.current(request, camera) is None:
        return HttpResponse(
            "No live session: open the camera's playlist first.",
            status=403,
            content_type="text/plain",
        )
    try:
        body = (state.stream_dir(camera.slug) / name).read_bytes()
    except FileNotFoundError:
        raise Http404 from None  # already rotated out of the playlist
    return HttpResponse(body, content_type="video/mp4")


@live_data
def still_image(request: HttpRequest, camera_id: int) -> HttpResponseBase:
    camera = get_object_or_404(Camera.objects.enabled(), pk=camera_id)
    try:
        data = still(camera)
    except StillBusy:  # a thread kept free for the admin and /health instead (live/stills.py)
        busy = HttpResponse(
            "Busy fetching stills; try again.", status=503, content_type="text/plain"
        )
        busy["Retry-After"] = "2"
        return busy
    if data is None:
        raise Http404
    audit_still(request, camera, "live still")
    return HttpResponse(data, content_type=content_type(data) or "image/jpeg")


@live_page
def recorded(request: HttpRequest, camera_id: int) -> HttpResponseBase:
    """The footage player at the moment on screen now (`behind`: the player's delay)."""
    if not roles.may_view_footage(request.user):
        raise PermissionDenied
    camera = get_object_or_404(Camera, pk=camera_id)
    try:
        behind = float(request.GET.get("behind", "0"))
    except ValueError:
        behind = 0.0
    if not math.isfinite(behind):
        return HttpResponseBadRequest(
            "behind must be a number of seconds.", content_type="text/plain"
        )
    behind = min(max(behind, 0.0), 600.0)
    moment = timezone.now() - timedelta(seconds=behind)
    segment = Segment.objects.filter(camera=camera, start__lte=moment).order_by("-start").first()
    if segment is not None and segment.is_playable and segment.abs_path.is_file():
        offset = (moment - segment.start).total_seconds()
        if segment.is_recording or segment.end >= moment:
            return redirect(reverse("recordings:player", args=[segment.pk]) + f"?t={offset:.1f}")
    local = timezone.localtime(moment)
    return redirect(reverse("recordings:index") + f"?date={local:%Y-%m-%d}&time={local:%H:%M}")
