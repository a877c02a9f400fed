"""Legal holds: placed from the timeline or the segment list, released here with a reason."""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from audit import roles
from crimebox.admin_base import ListTitleMixin
from crimebox.display import box_window

from ..holds import HoldError, release_hold
from ..models import LegalHold


@admin.register(LegalHold)
class LegalHoldAdmin(ListTitleMixin, admin.ModelAdmin):
    list_title = "Legal holds: footage retention may not delete"
    list_display = ["camera", "window", "case_number", "short_reason", "created_by", "state"]
    list_filter = ["camera", ("released_at", admin.EmptyFieldListFilter)]
    search_fields = ["case_number", "reason"]
    list_select_related = ["camera", "created_by"]
    readonly_fields = ["created_by", "created_at", "released_at", "released_by", "release_reason"]
    actions = ["release"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # placed from the footage timeline or the segment list, with its audit

    def has_delete_permission(self, request: HttpRequest, obj: LegalHold | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LegalHold | None = None) -> bool:
        return False

    @admin.display(description="window", ordering="start")
    def window(self, obj: LegalHold) -> str:
        return box_window(obj.start, obj.end)

    @admin.display(description="reason")
    def short_reason(self, obj: LegalHold) -> str:
        return format_html(
            '<span title="{}">{}</span>', obj.reason, Truncator(obj.reason).chars(60)
        )

    @admin.display(description="state", ordering="released_at")
    def state(self, obj: LegalHold) -> str:
        if obj.is_active:
            return mark_safe('<b class="held">active (footage held)</b>')
        return f"released {timezone.localtime(obj.released_at):%Y-%m-%d %H:%M}"

    def has_hold_permission(self, request: HttpRequest) -> bool:
        """The action is offered only to those who may place and release holds."""
        return roles.may_hold(request.user)

    @admin.action(description="Release the selected holds", permissions=["hold"])
    def release(self, request: HttpRequest, queryset: QuerySet[LegalHold]) -> HttpResponse | None:
        if not roles.may_hold(request.user):
            self.message_user(request, "You may not release legal holds.", messages.ERROR)
            return None
        if not request.POST.get("release_reason"):
            return render(
                request,
                "admin/recordings/legalhold/release.html",
                {
                    **self.admin_site.each_context(request),
                    "holds": queryset,
                    "opts": self.model._meta,
                    "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        released = 0
        for hold in queryset:
            try:
                release_hold(
                    hold, request.POST["release_reason"], user=request.user, request=request
                )
                released += 1
            except HoldError as e:
                self.message_user(request, f"{hold}: {e}", messages.WARNING)
        self.message_user(request, f"{released} hold(s) released.", messages.SUCCESS)
        return None
