"""Segments, gaps and integrity checks: machine-written, read-only for everyone."""

from typing import cast

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Max, Min, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from audit import roles
from crimebox.admin_base import ListTitleMixin, ReadOnlyAdmin
from crimebox.display import human_duration

from ..holds import HoldError, place_hold
from ..models import Gap, IntegrityCheck, PrefixCheck, Segment, SegmentQuerySet


class MediaWarningFilter(admin.SimpleListFilter):
    """Segments whose media duration, frame count and wall time disagree (/health links here)."""

    title = "media warning"
    parameter_name = "media_warning"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Times disagree"), ("no", "None")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Segment]) -> QuerySet[Segment]:
        if self.value() == "yes":
            return cast(SegmentQuerySet, queryset).media_warnings()  # the segment list's
        if self.value() == "no":
            return queryset.filter(media_warning="")
        return queryset


@admin.register(Segment)
class SegmentAdmin(ListTitleMixin, ReadOnlyAdmin):
    list_title = "Recorded segments: newest first, a row opens the player"
    list_display = [
        "start_link",
        "camera",
        "duration_s",
        "size_mb",
        "status_badge",
        "held",
        "short_sha256",
        "warning",
    ]
    list_filter = ["camera", "status", "on_hold", MediaWarningFilter]
    list_select_related = ["camera"]
    # A row opens the player (a person wants to see the footage, not a dump of its fields).
    list_display_links = None
    date_hierarchy = "start"
    search_fields = ["=sha256", "path"]
    # A year of 4 cameras is 140,000 rows: never COUNT(*) the whole table.
    show_full_result_count = False
    list_per_page = 100
    ordering = ["-start"]
    actions = ["place_hold_action"]
    readonly_fields = [f.name for f in Segment._meta.fields]

    @admin.display(description="start", ordering="start")
    def start_link(self, obj: Segment) -> str:
        when = date_format(timezone.localtime(obj.start), "DATETIME_FORMAT")
        if not obj.is_playable:
            return when
        url = reverse("recordings:player", args=[obj.pk])
        return format_html('<a href="{}" title="Play">▶ {}</a>', url, when)

    @admin.display(description="duration", ordering="duration")
    def duration_s(self, obj: Segment) -> str:
        return "recording…" if obj.is_recording else f"{obj.duration:.1f} s"

    @admin.display(description="size", ordering="size")
    def size_mb(self, obj: Segment) -> str:
        return "so far" if obj.is_recording else f"{obj.size / 1e6:.1f} MB"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Segment) -> str:
        colors = {"complete": "#2a7", "partial": "#c80", "recording": "#27c", "no_media": "#888"}
        color = colors.get(obj.status, "#c22")
        return format_html('<b style="color:{}">{}</b>', color, obj.get_status_display())

    @admin.display(description="media")
    def warning(self, obj: Segment) -> str:
        if not obj.media_warning:
            return ""
        return format_html('<b style="color:#c80" title="{}">times disagree</b>', obj.media_warning)

    @admin.display(description="legal hold", ordering="on_hold")
    def held(self, obj: Segment) -> str:
        # Not held is the normal state: nothing to say (a red ✗ read as "something is wrong").
        return mark_safe('<b class="held">HELD</b>') if obj.on_hold else ""

    @admin.display(description="SHA-256")
    def short_sha256(self, obj: Segment) -> str:
        if not obj.sha256:
            return "at close"  # still being recorded
        return format_html('<code title="{}">{}…</code>', obj.sha256, obj.sha256[:16])

    def has_hold_permission(self, request: HttpRequest) -> bool:
        """The action is offered only to those who may place and release holds."""
        return roles.may_hold(request.user)

    @admin.action(
        description="Place legal hold on the selected segments' time range", permissions=["hold"]
    )
    def place_hold_action(
        self, request: HttpRequest, queryset: QuerySet[Segment]
    ) -> HttpResponse | None:
        if not roles.may_hold(request.user):
            self.message_user(request, "You may not place legal holds.", messages.ERROR)
            return None
        if "reason" not in request.POST:
            return render(
                request,
                "admin/recordings/segment/hold_reason.html",
                {
                    **self.admin_site.each_context(request),
                    "segments": queryset[:50],
                    "count": queryset.count(),
                    "opts": self.model._meta,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                    "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                },
            )
        holds = 0
        ranges = queryset.values("camera").annotate(start=Min("start"), end=Max("end"))
        for r in ranges:
            first = Segment.objects.filter(camera_id=r["camera"]).first()
            assert first is not None  # the camera of a selected segment
            camera = first.camera
            try:
                place_hold(
                    camera,
                    r["start"],
                    r["end"],
                    request.POST["reason"],
                    case_number=request.POST.get("case_number", ""),
                    user=request.user,
                    request=request,
                )
                holds += 1
            except HoldError as e:
                self.message_user(request, str(e), messages.ERROR)
                return None
        self.message_user(request, f"{holds} legal hold(s) placed.", messages.SUCCESS)
        return None


@admin.register(Gap)
class GapAdmin(ListTitleMixin, ReadOnlyAdmin):
    list_title = "Gaps in the footage, and why"
    list_display = ["start_link", "end_text", "camera", "duration_s", "cause", "short_detail"]
    list_display_links = None  # a gap opens the camera's timeline at that hour
    list_filter = ["camera", "cause"]
    list_select_related = ["camera"]
    date_hierarchy = "start"
    show_full_result_count = False
    ordering = ["-start"]
    readonly_fields = [f.name for f in Gap._meta.fields]

    @admin.display(description="start", ordering="start")
    def start_link(self, obj: Gap) -> str:
        local = timezone.localtime(obj.start)
        url = reverse("recordings:day", args=[obj.camera_id, f"{local:%Y-%m-%d}"])
        return format_html(
            '<a href="{}?hour={}&amp;at={}#moment">{}</a>',
            url,
            local.hour,
            f"{local:%H%M}",
            date_format(local, "DATETIME_FORMAT"),
        )

    @admin.display(description="end", ordering="end")
    def end_text(self, obj: Gap) -> str:
        if obj.end is None:
            return "ongoing"
        return date_format(timezone.localtime(obj.end), "DATETIME_FORMAT")

    @admin.display(description="duration")
    def duration_s(self, obj: Gap) -> str:
        return "ongoing" if obj.end is None else human_duration(obj.duration)

    @admin.display(description="detail")
    def short_detail(self, obj: Gap) -> str:
        # FFmpeg's last line can be hundreds of characters: it must not push the columns off.
        return format_html(
            '<span title="{}">{}</span>', obj.detail, Truncator(obj.detail).chars(60)
        )


@admin.register(IntegrityCheck)
class IntegrityCheckAdmin(ListTitleMixin, ReadOnlyAdmin):
    list_title = "Integrity checks: every file re-hashed against its stored SHA-256"
    list_display = ["started_at", "finished_at", "camera", "checked", "ok", "problem_count"]
    list_filter = ["ok"]
    readonly_fields = [f.name for f in IntegrityCheck._meta.fields]

    @admin.display(description="problems")
    def problem_count(self, obj: IntegrityCheck) -> int:
        return len(obj.problems)


@admin.register(PrefixCheck)
class PrefixCheckAdmin(ListTitleMixin, ReadOnlyAdmin):
    list_title = "Prefix checks: exported bytes of open segments against the closed files"
    list_display = ["path", "end_byte", "export", "result", "checked_at"]
    list_filter = ["result"]
    list_select_related = ["export"]
    search_fields = ["path", "sha256"]
    readonly_fields = [f.name for f in PrefixCheck._meta.fields]
