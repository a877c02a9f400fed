from django.contrib import admin

from crimebox.admin_base import ReadOnlyAdmin

from .models import OutboxItem, SyncLog


@admin.register(OutboxItem)
class OutboxItemAdmin(ReadOnlyAdmin):
    list_display = ["doc_id", "kind", "state", "created_at", "sent_at", "attempts", "last_error"]
    list_filter = ["state", "kind"]
    search_fields = ["doc_id"]
    readonly_fields = [f.name for f in OutboxItem._meta.fields]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(SyncLog)
class SyncLogAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "result", "items", "delivered", "bytes", "took", "error"]
    list_filter = ["result"]
    readonly_fields = [f.name for f in SyncLog._meta.fields]
    date_hierarchy = "started_at"
    show_full_result_count = False

    @admin.display(description="duration", ordering="duration")
    def took(self, log: SyncLog) -> str:
        return f"{log.duration:.2f} s" if log.duration < 60 else f"{log.duration / 60:.1f} min"
