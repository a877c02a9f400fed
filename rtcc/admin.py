"""The console's admin (registered explicitly: the console uses SimpleAdminConfig)."""

from django.contrib import admin

from crimebox.admin_base import ReadOnlyAdmin

from .models import Alert, Box, BoxKey, Camera, IntegrityProblem


@admin.register(Box)
class BoxAdmin(ReadOnlyAdmin):
    list_display = ["box_id", "enrolment", "state", "last_contact_at", "software", "fingerprint"]
    list_filter = ["enrolment", "state"]
    search_fields = ["box_id", "fingerprint"]
    readonly_fields = [f.name for f in Box._meta.fields]


@admin.register(BoxKey)
class BoxKeyAdmin(ReadOnlyAdmin):
    list_display = ["box", "fingerprint", "state", "first_seen_at", "decided_by"]
    list_filter = ["state"]
    search_fields = ["box__box_id", "fingerprint"]
    readonly_fields = [f.name for f in BoxKey._meta.fields]
    list_select_related = ["box"]


@admin.register(Camera)
class CameraAdmin(ReadOnlyAdmin):
    list_display = ["name", "box", "state", "last_segment_end", "chain_sequence"]
    list_filter = ["state"]
    search_fields = ["name", "box__box_id"]
    readonly_fields = [f.name for f in Camera._meta.fields]
    list_select_related = ["box"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["kind", "box", "camera", "message", "raised_at", "resolved_at"]
    list_filter = ["kind"]
    search_fields = ["box__box_id", "subject", "message"]
    readonly_fields = [f.name for f in Alert._meta.fields]
    list_select_related = ["box", "camera"]
    date_hierarchy = "raised_at"
    show_full_result_count = False


@admin.register(IntegrityProblem)
class IntegrityProblemAdmin(ReadOnlyAdmin):
    list_display = ["kind", "box", "camera", "sequence", "doc_id", "found_at"]
    list_filter = ["kind"]
    search_fields = ["box__box_id", "doc_id"]
    readonly_fields = [f.name for f in IntegrityProblem._meta.fields]
    list_select_related = ["box", "camera"]
    date_hierarchy = "found_at"
    show_full_result_count = False
