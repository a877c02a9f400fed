from django.contrib import admin

from crimebox.admin_base import ReadOnlyAdmin

from .models import LiveSession


@admin.register(LiveSession)
class LiveSessionAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "username", "camera_name", "client_ip", "stream", "watching",
                    "duration"]  # fmt: skip
    list_filter = ["stream", "camera_name", "ended_at"]
    search_fields = ["username", "camera_name", "client_ip"]
    date_hierarchy = "started_at"
    list_select_related = ["camera"]
    show_full_result_count = False

    @admin.display(boolean=True, description="watching now")
    def watching(self, obj: LiveSession) -> bool:
        return obj.ended_at is None

    @admin.display(description="duration")
    def duration(self, obj: LiveSession) -> str:
        return f"{obj.duration_seconds:.0f} s"
