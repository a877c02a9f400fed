"""The admin's add-camera pages (ONVIF probe then profile choice, RTSP URL, test pattern)
and the discovery page. Thin: forms validate, cameras.services does the work."""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from .discovery import discover
from .forms import OnvifAddForm, ProfileChoiceForm, RtspAddForm, TestPatternAddForm
from .models import Camera
from .onvif import DeviceProbe
from .services import CameraError, add_onvif_camera, add_rtsp_camera, add_test_pattern_camera

# Between the two steps the probe and the credentials wait in the server-side session (never
# in the page); the key is removed once the camera is saved or the user starts over.
PENDING = "cameras:onvif_add"
DISCOVERY_SECONDS = 3.0


def _context(admin: ModelAdmin, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {
        **admin.admin_site.each_context(request),
        "opts": admin.model._meta,
        "title": title,
        "has_view_permission": admin.has_view_permission(request),
        **extra,
    }


def _saved(admin: ModelAdmin, request: HttpRequest, camera: Camera) -> HttpResponse:
    admin.log_addition(request, camera, [{"added": {}}])
    admin.message_user(request, f"Camera “{camera.name}” added.", messages.SUCCESS)
    return HttpResponseRedirect(reverse("admin:cameras_camera_change", args=[camera.pk]))


def onvif_add(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("step") == "save":
        return _onvif_save(admin, request)
    form = OnvifAddForm(
        request.POST or None,
        initial={k: request.GET[k] for k in ("name", "host", "port") if k in request.GET},
    )
    form.request = request
    if request.method == "POST" and form.is_valid():
        probe = form.probe
        assert probe is not None  # a valid form has probed the camera (OnvifAddForm.clean)
        request.session[PENDING] = {"data": form.cleaned_data, "probe": probe.as_dict()}
        return _choose_profiles(admin, request, probe, ProfileChoiceForm(probe=probe))
    request.session.pop(PENDING, None)
    return render(
        request,
        "admin/cameras/camera/add_onvif.html",
        _context(admin, request, "Add camera (ONVIF)", form=form, step="probe"),
    )


def _choose_profiles(
    admin: ModelAdmin, request: HttpRequest, probe: DeviceProbe, form: ProfileChoiceForm
) -> HttpResponse:
    pending = request.session[PENDING]["data"]
    return render(
        request,
        "admin/cameras/camera/add_onvif.html",
        _context(
            admin,
            request,
            "Add camera (ONVIF): choose profiles",
            form=form,
            step="save",
            device=probe,
            camera_name=pending["name"],
            address=f"{pending['host']}:{pending['port']}",
        ),
    )


def _onvif_save(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if not pending:
        admin.message_user(
            request, "The probe expired; please probe the camera again.", messages.WARNING
        )
        return HttpResponseRedirect(reverse("admin:cameras_camera_add"))
    probe = DeviceProbe.from_dict(pending["probe"])
    form = ProfileChoiceForm(request.POST, probe=probe)
    if form.is_valid():
        d = pending["data"]
        try:
            camera = add_onvif_camera(
                d["name"],
                d["host"],
                d["port"],
                d["username"],
                d["password"],
                result=probe,
                main_token=form.cleaned_data["main_profile"],
                sub_token=form.cleaned_data["sub_profile"],
                location=d["location"],
            )
        except CameraError as e:
            form.add_error(None, str(e))
        else:
            request.session.pop(PENDING, None)
            return _saved(admin, request, camera)
    return _choose_profiles(admin, request, probe, form)


def rtsp_add(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    return _simple_add(
        admin,
        request,
        RtspAddForm,
        "Add camera (RTSP URL)",
        "The URLs are checked with ffprobe before they are saved.",
        lambda d: add_rtsp_camera(
            d["name"],
            d["url"],
            d["username"],
            d["password"],
            sub_url=d["sub_url"],
            location=d["location"],
        ),
    )


def test_pattern_add(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    return _simple_add(
        admin,
        request,
        TestPatternAddForm,
        "Add camera (built-in test pattern)",
        "FFmpeg's test source, for trying the box without a camera.",
        lambda d: add_test_pattern_camera(d["name"], location=d["location"]),
    )


def _simple_add(
    admin: ModelAdmin,
    request: HttpRequest,
    form_class: type[forms.Form],
    title: str,
    note: str,
    create: Callable[[dict[str, Any]], Camera],
) -> HttpResponse:
    """One-step add: a valid form is handed to `create`; its CameraError shows on the form."""
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            camera = create(form.cleaned_data)
        except CameraError as e:
            form.add_error(None, str(e))
        else:
            return _saved(admin, request, camera)
    return render(
        request,
        "admin/cameras/camera/add_simple.html",
        _context(admin, request, title, form=form, note=note),
    )


def discover_view(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    devices, error = [], ""
    try:
        devices = discover(DISCOVERY_SECONDS)
    except OSError as e:
        error = f"WS-Discovery failed: {e.strerror or e}"
    known = {(c.host, c.onvif_port): c for c in Camera.objects.filter(source=Camera.Source.ONVIF)}
    add_url = reverse("admin:cameras_camera_add")
    rows = [
        {
            "device": d,
            "camera": known.get((d.host, d.port)),
            "add_url": f"{add_url}?{urlencode({'host': d.host, 'port': d.port, 'name': d.name})}",
        }
        for d in devices
    ]
    return render(
        request,
        "admin/cameras/camera/discover.html",
        _context(
            admin, request, "Discover cameras", rows=rows, error=error, seconds=DISCOVERY_SECONDS
        ),
    )
