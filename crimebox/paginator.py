from django.core.paginator import Paginator


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows (COUNT over a LIMIT subquery). A year of footage is 140,000
    segments (and the audit trail grows as fast): the admin never needs more than the first
    pages; the date drill-down and the filters narrow the rest."""

    CAP = 10_000

    @property
    def count(self):
        return self.object_list[: self.CAP].count()
