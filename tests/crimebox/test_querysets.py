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


@pytest.mark.django_db
def test_hold_querysets_keep_the_half_open_bounds():
    from recordings.models import LegalHold

    camera = make_camera()
    t0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    hold = LegalHold.objects.create(
        camera=camera, start=t0, end=t0 + timedelta(hours=1), reason="case"
    )
    released = LegalHold.objects.create(
        camera=camera, start=t0, end=t0 + timedelta(hours=1), reason="old", released_at=t0
    )
    assert list(LegalHold.objects.active()) == [hold]
    overlapping = LegalHold.objects.active().overlapping
    assert list(overlapping(t0 - timedelta(minutes=1), t0 + timedelta(seconds=1))) == [hold]
    assert list(overlapping(t0 - timedelta(minutes=1), t0)) == []  # ends where the hold starts
    assert list(overlapping(t0 + timedelta(hours=1), t0 + timedelta(hours=2))) == []
    covering = LegalHold.objects.covering
    assert set(covering(t0)) == {hold, released}  # [start, end): the start is inside
    assert list(covering(t0 + timedelta(hours=1))) == []
    assert list(covering(t0 - timedelta(microseconds=1))) == []


@pytest.mark.django_db
def test_segment_querysets_last_chained_and_recording():
    from recordings.models import Segment

    camera, other = make_camera("A"), make_camera("B")
    t0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)

    def row(cam, sequence, status=Segment.Status.COMPLETE):
        chained = status != Segment.Status.RECORDING
        return Segment.objects.create(
            camera=cam,
            sequence=sequence,
            start=t0,
            end=t0,
            duration=0,
            size=0,
            path=f"{cam.slug}/{sequence}-{status}.mp4",
            status=status,
            chain_hash=f"{cam.pk}-{sequence}".ljust(64, "0") if chained else None,
            hashed_at=t0 if chained else None,
        )

    assert Segment.objects.filter(camera=camera).last_chained() is None
    row(camera, 1)
    second = row(camera, 2, Segment.Status.DELETED)
    writing = row(camera, None, Segment.Status.RECORDING)
    row(other, 7)
    assert Segment.objects.filter(camera=camera).last_chained() == second
    assert list(Segment.objects.recording()) == [writing]
    assert set(Segment.objects.playable()) == set(Segment.objects.on_disk()) | {writing}
    assert set(Segment.objects.on_disk().values_list("camera", "sequence")) == {
        (camera.pk, 1),
        (other.pk, 7),
    }


@pytest.mark.django_db
def test_gap_open_and_camera_enabled():
    from cameras.models import Camera

    camera = make_camera("On")
    off = make_camera("Off", is_enabled=False)
    t0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    ongoing = Gap.objects.create(camera=camera, start=t0, cause=Gap.Cause.UNKNOWN)
    Gap.objects.create(camera=camera, start=t0, end=t0, cause=Gap.Cause.UNKNOWN)
    assert list(Gap.objects.open()) == [ongoing]
    assert list(Camera.objects.enabled()) == [camera] and off not in Camera.objects.enabled()
