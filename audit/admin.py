from django.contrib import admin

from crimebox.admin_base import ReadOnlyAdmin

from .log import verify_chain
from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Append-only: nobody edits or deletes an entry here, superusers included."""

    list_display = ["sequence", "at", "username", "client_ip", "action", "camera_name", "target"]
    list_filter = ["action", "camera", "username"]
    date_hierarchy = "at"
    search_fields = ["username", "target", "camera_name"]
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    list_select_related = ["camera"]

    def changelist_view(self, request, extra_context=None):
        problems = verify_chain()
        extra_context = {**(extra_context or {}), "title": (
            "Audit trail — chain intact" if not problems
            else f"Audit trail — CHAIN BROKEN: {'; '.join(problems[:5])}")}
        return super().changelist_view(request, extra_context)
