"""QuerySet building blocks shared by the apps."""

from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar

from django.db import models
from django.db.models import Max, Min
from django.utils import timezone


def _next(moment: datetime, kind: str) -> datetime:
    if kind == "year":
        return moment.replace(year=moment.year + 1)
    if kind == "month":
        return moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)
    return moment + timedelta(days=1)  # same wall-clock midnight, next day


_M = TypeVar("_M", bound=models.Model)


class RangeDatetimesQuerySet(models.QuerySet[_M]):
    """`datetimes()` for years, months and days lists every period between the first and the
    last value (MIN and MAX: index lookups), not DISTINCT over every row through SQLite's
    Python date function (measured 0.6 s on 140,000 segments, on every admin list view).
    The admin's date drill-down is its only caller; a period with no rows may be listed."""

    # Returns a list of the periods, not a QuerySet: the admin only iterates over it.
    def datetimes(
        self, field_name: str, kind: Any, order: Any = "ASC", tzinfo: tzinfo | None = None
    ) -> Any:
        if kind not in ("year", "month", "day"):
            return super().datetimes(field_name, kind, order, tzinfo)
        span = self.aggregate(first=Min(field_name), last=Max(field_name))
        if span["first"] is None:
            return []
        tz = tzinfo or timezone.get_current_timezone()
        first, last = timezone.localtime(span["first"], tz), timezone.localtime(span["last"], tz)
        moment = first.replace(
            month=1 if kind == "year" else first.month,
            day=1 if kind in ("year", "month") else first.day,
            hour=0,
            minute=0,
            second=0,
            microsecond=0,
        )
        periods = []
        while moment <= last:
            periods.append(moment)
            moment = _next(moment, kind)
        return periods if order == "ASC" else periods[::-1]
