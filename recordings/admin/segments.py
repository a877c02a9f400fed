"""Segments, gaps and integrity checks: machine-written, read-only for everyone."""

from django.contrib import admin, messages
from django.db.models import Max, Min
from django.shortcuts import render
from django.utils.html import format_html

from crimebox.admin_base import ReadOnlyAdmin

from ..holds import HoldError, place_hold
from ..models import Gap, IntegrityCheck, Segment


class MediaWarningFilter(admin.SimpleListFilter):
    """Segments whose media duration, frame count and wall time disagree (/health links here)."""

    title = "media warning"
    parameter_name = "media_warning"

    def lookups(self, request, model_admin):
        return [("yes", "Times disagree"), ("no", "None")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.media_warnings()
        if self.value() == "no":
            return queryset.filter(media_warning="")
        return queryset


@admin.register(Segment)
class SegmentAdmin(ReadOnlyAdmin):
    list_display = [
        "start",
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
    date_hierarchy = "start"
    search_fields = ["=sha256", "path"]
    # A year of 4 cameras is 140,000 rows: never COUNT(*) the whole table.
    show_full_result_count = False
    list_per_page = 100
    ordering = ["-start"]
    actions = ["place_hold_action"]
    readonly_fields = [f.name for f in Segment._meta.fields]

    @admin.display(description="duration", ordering="duration")
    def duration_s(self, obj):
        return f"{obj.duration:.1f} s"

    @admin.display(description="size", ordering="size")
    def size_mb(self, obj):
        return f"{obj.size / 1e6:.1f} MB"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        color = {"complete": "#2a7", "partial": "#c80", "recording": "#27c"}.get(obj.status, "#c22")
        return format_html('<b style="color:{}">{}</b>', color, obj.get_status_display())

    @admin.display(description="media")
    def warning(self, obj):
        if not obj.media_warning:
            return ""
        return format_html('<b style="color:#c80" title="{}">times disagree</b>', obj.media_warning)

    @admin.display(description="hold", boolean=True, ordering="on_hold")
    def held(self, obj):
        return obj.on_hold

    @admin.display(description="SHA-256")
    def short_sha256(self, obj):
        if not obj.sha256:
            return "at close"  # still being recorded
        return format_html('<code title="{}">{}…</code>', obj.sha256, obj.sha256[:16])

    @admin.action(description="Place legal hold on the selected segments' time range")
    def place_hold_action(self, request, queryset):
        if not request.user.has_perm("recordings.hold_footage"):
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
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                    "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                },
            )
        holds = 0
        ranges = queryset.values("camera").annotate(start=Min("start"), end=Max("end"))
        for r in ranges:
            camera = Segment.objects.filter(camera_id=r["camera"]).first().camera
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
class GapAdmin(ReadOnlyAdmin):
    list_display = ["start", "end", "camera", "duration_s", "cause", "detail"]
    list_filter = ["camera", "cause"]
    list_select_related = ["camera"]
    date_hierarchy = "start"
    show_full_result_count = False
    ordering = ["-start"]
    readonly_fields = [f.name for f in Gap._meta.fields]

    @admin.display(description="duration")
    def duration_s(self, obj):
        return "ongoing" if obj.end is None else f"{obj.duration:.1f} s"


@admin.register(IntegrityCheck)
class IntegrityCheckAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "finished_at", "camera", "checked", "ok", "problem_count"]
    list_filter = ["ok"]
    readonly_fields = [f.name for f in IntegrityCheck._meta.fields]

    @admin.display(description="problems")
    def problem_count(self, obj):
        return len(obj.problems)
