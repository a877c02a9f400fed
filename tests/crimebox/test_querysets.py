from datetime import UTC, datetime, timedelta

import pytest

from recordings.models import Gap
from tests.factories import make_camera


@pytest.mark.django_db
def test_range_datetimes_lists_each_period_between_first_and_last(settings):
    settings.TIME_ZONE = "America/Chicago"
    camera = make_camera()
    for start in (
        datetime(2025, 12, 31, 5, 0, tzinfo=UTC),  # 2025-12-30 23:00 in Chicago
        datetime(2026, 1, 2, 12, 0, tzinfo=UTC),
    ):
        Gap.objects.create(
            camera=camera, start=start, end=start + timedelta(minutes=1), cause=Gap.Cause.UNKNOWN
        )
    days = [d.date().isoformat() for d in Gap.objects.datetimes("start", "day")]
    assert days == ["2025-12-30", "2025-12-31", "2026-01-01", "2026-01-02"]
    assert [d.month for d in Gap.objects.datetimes("start", "month")] == [12, 1]
    assert [d.year for d in Gap.objects.datetimes("start", "year", order="DESC")] == [2026, 2025]
    assert list(Gap.objects.none().datetimes("start", "day")) == []
    assert all(d.hour == 0 for d in Gap.objects.datetimes("start", "day"))
