"""Front page, landing per role, and the box's health for a person (JSON stays at /health)."""

from typing import Any

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from audit import roles
from cameras.models import Camera
from crimebox.admin_base import page_context
from recordings.footage.thumbnails import audit_still, thumbnail
from recordings.health import health_status, may_see_health
from recordings.models import Segment

from .health_words import health_in_words


def landing_url(user: User | AnonymousUser) -> str:
    """Where a role's work is: investigator → Footage, auditor → audit trail, technician and
    administrator → the front page (cameras and health)."""
    if user.is_superuser or roles.may_change_cameras(user):
        return reverse("admin:index")
    if roles.may_view_footage(user):
        return reverse("recordings:index")
    if roles.may_read_audit(user):
        return reverse("admin:audit_auditevent_changelist")
    return reverse("admin:index")


def login(request: HttpRequest) -> HttpResponse:
    """The admin's login; without a destination it lands each role where its work is.

    Opening the box's address sends a person to `/login/?next=/`: the front page is where the
    admin sends everyone, not a place they asked for, so `next=/` is no destination either.
    """
    landing = reverse("console:landing")
    for data in ("GET", "POST"):
        if getattr(request, data).get(REDIRECT_FIELD_NAME) == reverse("admin:index"):
            replaced = getattr(request, data).copy()
            replaced[REDIRECT_FIELD_NAME] = landing
            setattr(request, data, replaced)
    extra: dict[str, Any] = {}
    if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
        extra[REDIRECT_FIELD_NAME] = landing
    return admin.site.login(request, extra_context=extra)


@admin.site.admin_view
def landing(request: HttpRequest) -> HttpResponse:
    return redirect(landing_url(request.user))


def camera_cards(user: User | AnonymousUser) -> list[dict[str, Any]]:
    """Every camera with its newest playable segment (for the still and 'last segment')."""
    cards = []
    for camera in Camera.objects.order_by("name"):
        latest = Segment.objects.filter(camera=camera).playable().order_by("-start").first()
        cards.append({"camera": camera, "latest": latest, "still": roles.may_see_stills(user)})
    return cards


@admin.site.admin_view
def front(request: HttpRequest) -> HttpResponse:
    """The box at a glance: every camera (still, status, last segment) and health in words."""
    health = health_status()
    context = page_context(
        request,
        title=f"Box {health['box_id']} at a glance",
        cards=camera_cards(request.user),
        health=health_in_words(health) if may_see_health(request.user) else None,
        app_list=[
            app for app in admin.site.get_app_list(request) if app["app_label"] != "django_q"
        ],
    )
    return render(request, "console/front.html", context)


@admin.site.admin_view
def health_page(request: HttpRequest) -> HttpResponse:
    if not may_see_health(request.user):
        raise PermissionDenied  # a staff account without a role sees nothing
    health = health_status()
    context = page_context(
        request,
        title=f"Health of box {health['box_id']}",
        raw=health,
        health=health_in_words(health),
    )
    return render(request, "console/health.html", context)


@admin.site.admin_view
def camera_still(request: HttpRequest, camera_id: int) -> FileResponse:
    """The first frame of the camera's newest segment (for the front page and camera list)."""
    if not roles.may_see_stills(request.user):
        raise PermissionDenied
    camera = get_object_or_404(Camera, pk=camera_id)
    latest = Segment.objects.filter(camera=camera).playable().order_by("-start").first()
    path = thumbnail(latest) if latest else None
    if latest is None or path is None:
        raise Http404("No still yet.")
    audit_still(request, camera, "camera still", segment=latest.pk)
    response = FileResponse(open(path, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=60"
    return response
