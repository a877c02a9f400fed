from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from crimebox.admin_base import ReadOnlyAdmin

from .log import chain_status
from .models import AuditCheck, AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Append-only: nobody edits or deletes an entry here, superusers included."""

    list_display = [
        "sequence",
        "at",
        "username",
        "client_ip",
        "action",
        "camera_name",
        "target",
        "outcome",
    ]
    list_filter = ["action", "camera", "username"]
    date_hierarchy = "at"
    search_fields = ["username", "target", "camera_name"]
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    list_select_related = ["camera"]

    @admin.display(description="Outcome")
    def outcome(self, obj: AuditEvent) -> str:
        """For streamed files (recordings/footage/media.py): what the socket accepted, which
        is at most what the client got (it may have read nothing and reset)."""
        detail = obj.detail or {}
        if detail.get("result") == "viewed":  # one viewing of a segment (audit/viewings.py)
            return (
                f"viewed in {detail['requests']} request(s): at most {detail['bytes_sent']:,} "
                f"bytes reached the client"
                + (f" (the file: {detail['bytes']:,})" if detail.get("bytes") is not None else "")
            )
        if detail.get("result") == "interrupted":
            return (
                f"interrupted: at most {detail['bytes_sent']:,} of {detail['bytes']:,} bytes "
                "reached the client"
            )
        if detail.get("result") in ("sent", "complete"):  # "complete": entries before 2026-12
            return f"all {detail['bytes']:,} bytes sent: the client received at most that"
        return ""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        _, status = chain_status()
        extra_context = {**(extra_context or {}), "title": f"Audit trail — {status}"}
        return super().changelist_view(request, extra_context)


@admin.register(AuditCheck)
class AuditCheckAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "finished_at", "checked", "ok", "last_sequence"]
    readonly_fields = [f.name for f in AuditCheck._meta.fields]
