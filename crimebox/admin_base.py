"""Admin building blocks shared by the apps."""

from typing import Any, cast

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

# The date drill-down's parts (`?start__year=`): a year 0 or of 20 digits was a 500.
DATE_PARTS = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows (COUNT over a LIMIT subquery). A year of footage is 140,000
    segments (and the audit trail grows as fast): the admin never needs more than the first
    pages; the date drill-down and the filters narrow the rest."""

    CAP = 10_000

    @property
    def count(self) -> int:
        # The admin pages its changelist's QuerySet; a list would not take the LIMIT.
        return cast("QuerySet[Any]", self.object_list)[: self.CAP].count()


class ReadOnlyAdmin(admin.ModelAdmin):
    """Machine-written or append-only rows: nobody adds, changes or deletes them here,
    superusers included."""

    paginator = CappedCountPaginator

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        field = self.date_hierarchy
        for part, (low, high) in DATE_PARTS.items() if field else ():
            raw = request.GET.get(f"{field}__{part}")
            if raw is not None and not (
                raw.isascii() and raw.isdigit() and len(raw) <= 4 and low <= int(raw) <= high
            ):
                return HttpResponseBadRequest(
                    f"The {part} must be a number from {low} to {high}.",
                    content_type="text/plain; charset=utf-8",
                )
        return super().changelist_view(request, extra_context)


class ListTitleMixin(admin.ModelAdmin):
    """A list page headed by its purpose ("Gaps in the footage, and why") instead of the
    admin's "Select gap to view"."""

    list_title = ""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if self.list_title:
            extra_context = {"title": self.list_title, **(extra_context or {})}
        return super().changelist_view(request, extra_context)


def page_context(request: HttpRequest, **kw: Any) -> dict[str, Any]:
    """What every page drawn in the admin's frame needs (the header, the user's links), and
    the page's own values: the footage, live, console and RTCC pages all start from it."""
    return {**admin.site.each_context(request), **kw}
