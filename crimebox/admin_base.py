"""Admin building blocks shared by the apps."""

from django.contrib import admin
from django.core.paginator import Paginator


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


class ListTitleMixin:
    """A list page headed by its purpose ("Gaps in the footage, and why") instead of the
    admin's "Select gap to view"."""

    list_title = ""

    def changelist_view(self, request, extra_context=None):
        if self.list_title:
            extra_context = {"title": self.list_title, **(extra_context or {})}
        return super().changelist_view(request, extra_context)
