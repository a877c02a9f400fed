from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from audit import roles
from crimebox import outbox
from crimebox.admin_base import ListTitleMixin, ReadOnlyAdmin

from . import admin_views
from .audit import camera_changed, describe_changes
from .clock import box_clock
from .forms import CameraChangeForm
from .models import Camera, ClockReading, describe_offset, stream_label
from .services import CameraError, reprobe

STATUS_COLOURS: dict[str, str] = {
    Camera.Status.RECORDING: "#2e7d32",
    Camera.Status.RECONNECTING: "#ef6c00",
    Camera.Status.OFFLINE: "#c62828",
    Camera.Status.DISABLED: "#757575",
}


def _note_change(request: HttpRequest, change: str, changes: dict[str, Any]) -> None:
    """What the next log_change writes to the audit trail: the request carries it there."""
    setattr(request, "camera_change", (change, changes))  # noqa: B010  (mypy: no such attribute)


@admin.register(Camera)
class CameraAdmin(ListTitleMixin, admin.ModelAdmin):
    list_title = "Cameras: what each records, and how it is doing"
    form = CameraChangeForm
    list_display = [
        "name",
        "short_location",
        "source",
        "make_model",
        "status_badge",
        "error",
        "last_segment_at",
        "is_enabled",
    ]
    list_filter = ["source", "status", "is_enabled", "manufacturer"]
    search_fields = ["name", "location", "host", "manufacturer", "model", "serial_number"]
    list_select_related = True
    actions = ["reprobe_cameras", "retire_cameras"]
    readonly_fields = [
        "source",
        "manufacturer",
        "model",
        "serial_number",
        "firmware_version",
        "hardware_id",
        "main_stream_uri",
        "main_format",
        "sub_stream_uri",
        "sub_format",
        "snapshot_uri",
        "profile_table",
        "password_state",
        "status",
        "status_changed_at",
        "last_seen_at",
        "error",
        "last_segment_at",
        "probed_at",
        "camera_clock",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "is_enabled", "record_audio", "source"]}),
        ("Location", {"fields": ["location", "latitude", "longitude", "facing_degrees"]}),
        ("Network", {"fields": ["host", "onvif_port", "username", "password", "password_state"]}),
        (
            "Device (from ONVIF)",
            {
                "fields": [
                    "manufacturer",
                    "model",
                    "serial_number",
                    "firmware_version",
                    "hardware_id",
                    "probed_at",
                    "sync_clock",
                ]
            },
        ),
        (
            "Streams",
            {
                "fields": [
                    "main_profile_token",
                    "main_stream_uri",
                    "main_format",
                    "sub_profile_token",
                    "sub_stream_uri",
                    "sub_format",
                    "snapshot_uri",
                    "profile_table",
                ]
            },
        ),
        (
            "Status",
            {
                "fields": [
                    "status",
                    "status_changed_at",
                    "last_seen_at",
                    "last_segment_at",
                    "error",
                    "camera_clock",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    def save_model(
        self, request: HttpRequest, obj: Camera, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        outbox.report(outbox.CAMERA, obj)  # inside the admin's transaction

    # Returns a plain string where Django builds a list: log_change takes either (stubs: list).
    def construct_change_message(  # type: ignore[override]
        self,
        request: HttpRequest,
        form: forms.Form,
        formsets: Iterable[forms.BaseFormSet],
        add: bool = False,
    ) -> str | list[dict[str, dict[str, list[str]]]]:
        """Old and new values, so the audit trail (and evidence packages) can tell what a
        camera's name, location or profile was at any time. Credentials: only that they
        changed."""
        if add or not form.changed_data:
            return super().construct_change_message(request, form, formsets, add)
        changes = {
            name: [form.initial.get(name), form.cleaned_data.get(name)]
            for name in form.changed_data
        }
        _note_change(request, "changed", changes)  # for log_change, next
        return "Changed " + describe_changes(changes) + "."

    # The admin's history (LogEntry) and the audit trail are written together, here: the
    # audit entry gets the old and new values, which a LogEntry keeps only as text.
    def log_addition(
        self, request: HttpRequest, obj: Camera, message: str | list[dict[str, Any]]
    ) -> LogEntry:
        entry = super().log_addition(request, obj, message)
        camera_changed(obj, "added", via="admin", request=request)
        return entry

    def log_change(
        self, request: HttpRequest, obj: Camera, message: str | list[dict[str, Any]]
    ) -> LogEntry:
        entry = super().log_change(request, obj, message)
        change, changed = getattr(request, "camera_change", ("changed", {}))
        _note_change(request, "changed", {})
        summary = entry.get_change_message()
        camera_changed(obj, change, via="admin", changed=changed, summary=summary, request=request)
        return entry

    def log_deletions(
        self, request: HttpRequest, queryset: QuerySet[Camera]
    ) -> list[LogEntry] | LogEntry:
        entries = super().log_deletions(request, queryset)
        for camera in queryset:
            camera_changed(camera, "deleted", via="admin", request=request)
        return entries

    # A camera with history (footage, holds, exports, viewers) is retired, never deleted: its
    # rows and audit entries keep naming it. One without history may still be deleted.
    def has_delete_permission(self, request: HttpRequest, obj: Camera | None = None) -> bool:
        if obj is not None and obj.has_history():
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(
        self, objs: Sequence[Camera] | QuerySet[Camera], request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        protected = [
            *protected,
            *(f"{c} has history: retire it instead" for c in objs if c.has_history()),
        ]
        return deleted, counts, perms_needed, protected

    @admin.action(
        description="Retire selected cameras (stop recording, keep them)", permissions=["change"]
    )
    def retire_cameras(self, request: HttpRequest, queryset: QuerySet[Camera]) -> None:
        done = 0
        for camera in queryset.filter(is_enabled=True):
            with transaction.atomic():
                camera.is_enabled = False
                camera.save(update_fields=["is_enabled", "updated_at"])
                camera.set_status(Camera.Status.DISABLED, error="")
                outbox.report(outbox.CAMERA, camera)
                _note_change(request, "retired", {"is_enabled": [True, False]})
                self.log_change(request, camera, "Retired: recording stopped, camera kept.")
            done += 1
        self.message_user(request, f"Retired {done} camera(s).", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "add/rtsp/", wrap(self._adder(admin_views.rtsp_add)), name="cameras_camera_add_rtsp"
            ),
            path(
                "add/test-pattern/",
                wrap(self._adder(admin_views.test_pattern_add)),
                name="cameras_camera_add_test",
            ),
            path(
                "discover/",
                wrap(self._adder(admin_views.discover_view)),
                name="cameras_camera_discover",
            ),
            *super().get_urls(),
        ]

    def _adder(
        self, view: Callable[[admin.ModelAdmin, HttpRequest], HttpResponse]
    ) -> Callable[[HttpRequest], HttpResponse]:
        def checked(request: HttpRequest) -> HttpResponse:
            if not self.has_add_permission(request):
                raise PermissionDenied
            return view(self, request)

        return checked

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return self._adder(admin_views.onvif_add)(request)

    def get_form(
        self, request: HttpRequest, obj: Camera | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        # Its own class per request (threads share the admin): the form audits a refused probe.
        return type(form.__name__, (form,), {"request": request})

    def get_readonly_fields(
        self, request: HttpRequest, obj: Camera | None = None
    ) -> list[str] | tuple[str, ...]:
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.source == Camera.Source.RTSP:
            # No ONVIF profile to pick: the URLs themselves are edited (and ffprobed).
            return [f for f in fields if f not in ("main_stream_uri", "sub_stream_uri")]
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Camera | None = None) -> Any:
        """Only what the camera's kind has (see kind_fieldsets). The password is write-only:
        whoever may only view a camera sees "set" / "not set" (the admin's read-only rendering
        would show the stored value in clear text)."""
        fieldsets = self.kind_fieldsets(obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (title, {**opts, "fields": [f for f in opts["fields"] if f != "password"]})
            for title, opts in fieldsets
        ]

    def kind_fieldsets(self, obj: Camera | None = None) -> Any:
        """Only what the camera's kind has: a test pattern has no network, no device and no
        streams; an RTSP camera has URLs and credentials but no ONVIF port or profiles."""
        if obj is None or obj.source == Camera.Source.ONVIF:
            return self.fieldsets
        general, location, *_, status = self.fieldsets
        if obj.source == Camera.Source.TEST_PATTERN:
            return [general, location, status]
        network = (
            "Stream",
            {
                "fields": [
                    "main_stream_uri",
                    "main_format",
                    "sub_stream_uri",
                    "sub_format",
                    "username",
                    "password",
                    "password_state",
                ]
            },
        )
        return [general, location, network, status]

    @admin.display(description="password state")
    def password_state(self, camera: Camera) -> str:
        return "set" if camera.password else "not set"

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        if roles.may_see_stills(request.user):
            shown = ["still", *shown]
        return [*shown, "live_link"] if roles.may_watch_live(request.user) else shown

    @admin.display(description="still")
    def still(self, camera: Camera) -> str:
        if camera.last_segment_at is None and not camera.segments.exists():
            return "—"
        return format_html(
            # hide-if-broken: console/stills.js hides a still that 404s (our CSP blocks
            # inline onerror= handlers).
            '<img class="camera-still hide-if-broken" loading="lazy" src="{}" alt="">',
            reverse("console:still", args=[camera.pk]),
        )

    @admin.display(description="location", ordering="location")
    def short_location(self, camera: Camera) -> str:
        # One line with the whole text on hover: a long address must not wrap into eight.
        return (
            format_html(
                '<span class="location" title="{}">{}</span>', camera.location, camera.location
            )
            if camera.location
            else "—"
        )

    @admin.display(description="live")
    def live_link(self, camera: Camera) -> str:
        if not camera.is_enabled:
            return "—"
        return format_html('<a href="{}">Live</a>', reverse("live:camera", args=[camera.pk]))

    @admin.display(description="make / model", ordering="manufacturer")
    def make_model(self, camera: Camera) -> str:
        return " ".join(filter(None, [camera.manufacturer, camera.model])) or "—"

    @admin.display(description="status", ordering="status")
    def status_badge(self, camera: Camera) -> str:
        return format_html(
            '<b style="color:{}">{}</b>',
            STATUS_COLOURS.get(camera.status, "#333"),
            camera.get_status_display(),
        )

    @admin.display(description="camera clock")
    def camera_clock(self, camera: Camera) -> str:
        """The latest offset against the box's clock, and the box's own time source."""
        reading = ClockReading.objects.latest_for(camera.pk) if camera.pk else None
        text = describe_offset(reading, camera)
        if reading is not None:
            text += f", measured {reading.measured_at:%Y-%m-%d %H:%M:%S} UTC"
        return f"{text}; box clock {box_clock()['state']}"

    @admin.display(description="last error")
    def error(self, camera: Camera) -> str:
        """A refused answer (cameras/trust.py) first: it stays until a probe is accepted."""
        problems = " — ".join(p for p in (camera.refusal, camera.last_error) if p)
        return camera.redact(problems)[:500] or "—"

    @admin.display(description="main format")
    def main_format(self, camera: Camera) -> str:
        return _format(camera.main_codec, camera.main_width, camera.main_height, camera.main_fps)

    @admin.display(description="sub format")
    def sub_format(self, camera: Camera) -> str:
        return _format(camera.sub_codec, camera.sub_width, camera.sub_height, camera.sub_fps)

    @admin.display(description="all profiles")
    def profile_table(self, camera: Camera) -> str:
        if not camera.profiles:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    p.get("token"),
                    p.get("name"),
                    _format(p.get("encoding"), p.get("width"), p.get("height"), p.get("fps")),
                    p.get("stream_uri"),
                )
                for p in camera.profiles
            ),
        )
        return format_html(
            "<table><tr><th>token</th><th>name</th><th>format</th><th>stream</th></tr>{}</table>",
            rows,
        )

    @admin.action(description="Re-probe selected ONVIF cameras", permissions=["change"])
    def reprobe_cameras(self, request: HttpRequest, queryset: QuerySet[Camera]) -> None:
        done, failed = 0, []
        for camera in queryset.filter(source=Camera.Source.ONVIF):
            try:
                changes = reprobe(camera, via="admin", request=request)
                done += 1
                _note_change(request, "re-probed", changes)
                self.log_change(
                    request,
                    camera,
                    "Re-probed over ONVIF: " + (describe_changes(changes) or "nothing changed"),
                )
            except CameraError as e:
                failed.append(f"{camera.name}: {camera.redact(str(e))}")
        self.message_user(request, f"Re-probed {done} camera(s).", messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)


def _format(codec: str, width: int | None, height: int | None, fps: float | None) -> str:
    return stream_label(codec, width, height, fps) if codec or width else "—"


@admin.register(ClockReading)
class ClockReadingAdmin(ListTitleMixin, ReadOnlyAdmin):
    list_title = "Camera clock readings: each camera's clock against the box's"
    list_display = ["measured_at", "camera", "offset", "camera_time", "round_trip_seconds"]
    list_filter = ["camera"]
    search_fields = ["camera__name"]
    list_select_related = ["camera"]
    date_hierarchy = "measured_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in ClockReading._meta.fields]

    @admin.display(description="offset", ordering="offset_seconds")
    def offset(self, reading: ClockReading) -> str:
        return describe_offset(reading)
