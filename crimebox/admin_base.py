"""Admin building blocks shared by the apps."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest

# The date drill-down's parts (`?start__year=`): a year 0 or of 20 digits was a 500.
DATE_PARTS = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows (COUNT over a LIMIT subquery). A year of footage is 140,000
    segments (and the audit trail grows as fast): the admin never needs more than the first
    pages; the date drill-down and the filters narrow the rest."""

    CAP = 10_000

    @property
    def count(self):
        return self.object_list[: self.CAP].count()


class ReadOnlyAdmin(admin.ModelAdmin):
    """Machine-written or append-only rows: nobody adds, changes or deletes them here,
    superusers included."""

    paginator = CappedCountPaginator

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
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


class ListTitleMixin:
    """A list page headed by its purpose ("Gaps in the footage, and why") instead of the
    admin's "Select gap to view"."""

    list_title = ""

    def changelist_view(self, request, extra_context=None):
        if self.list_title:
            extra_context = {"title": self.list_title, **(extra_context or {})}
        return super().changelist_view(request, extra_context)


def page_context(request, **kw) -> dict:
    """What every page drawn in the admin's frame needs (the header, the user's links), and
    the page's own values: the footage, live, console and RTCC pages all start from it."""
    return {**admin.site.each_context(request), **kw}
