"""A camera's day as positioned bars: coverage, gaps and holds, for the drawn timeline."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from audit.models import AuditEvent
from cameras.models import Camera

from ..models import Gap, LegalHold, Segment

DAY_SECONDS = 24 * 3600


@dataclass
class Bar:
    start: datetime
    end: datetime
    x: float  # percent of the day
    width: float
    kind: str  # segment / gap / hold
    title: str
    obj: object = None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day as an aware [start, end) in the box's zone (23 or 25 h at DST changes)."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), tz)
    return start, end


def hour_bounds(day: date, hour: int) -> tuple[datetime, datetime]:
    """One local hour of the day as an aware [start, end)."""
    start = timezone.make_aware(datetime.combine(day, time(hour)), timezone.get_current_timezone())
    return start, start + timedelta(hours=1)


@dataclass
class Tick:
    x: float  # percent of the window
    label: str
    hour: int | None = None  # in the day view: the hour to zoom into


def ticks(start: datetime, end: datetime, zoomed: bool) -> list[Tick]:
    """Labels under the timeline: every hour of a day, every 5 minutes of an hour."""
    step = timedelta(minutes=5) if zoomed else timedelta(hours=1)
    total = (end - start).total_seconds()
    out, t = [], start
    while t < end:
        local = timezone.localtime(t)
        out.append(
            Tick(
                100 * (t - start).total_seconds() / total,
                f"{local:%H:%M}",
                None if zoomed else local.hour,
            )
        )
        t += step
    return out


def bar(
    start: datetime,
    end: datetime,
    day_start: datetime,
    day_end: datetime,
    kind: str,
    title: str,
    obj: object = None,
) -> Bar:
    total = (day_end - day_start).total_seconds()
    s, e = max(start, day_start), min(end, day_end)
    return Bar(
        start,
        end,
        100 * (s - day_start).total_seconds() / total,
        max(0.05, 100 * (e - s).total_seconds() / total),
        kind,
        title,
        obj,
    )


def gap_title(gap: Gap) -> str:
    start = f"{timezone.localtime(gap.start):%H:%M:%S}"
    span = f"{start}–{timezone.localtime(gap.end):%H:%M:%S}" if gap.end else f"since {start}"
    return f"Gap {span}: {gap.get_cause_display()}" + (f" ({gap.detail})" if gap.detail else "")


def moves(camera: Camera, start: datetime, end: datetime) -> list[AuditEvent]:
    """The camera's PTZ entries in the window: a moved camera records another scene."""
    return list(
        AuditEvent.objects.filter(
            action=AuditEvent.Action.PTZ, camera_id=camera.pk, at__gte=start, at__lt=end
        ).order_by("sequence")
    )


def move_bar(event: AuditEvent, day_start: datetime, day_end: datetime) -> Bar:
    detail = event.detail or {}
    title = (
        f"Camera moved at {timezone.localtime(event.at):%H:%M:%S} by {event.username}: "
        f"from {detail.get('from')} to {detail.get('to')}"
    )
    return bar(event.at, event.at, day_start, day_end, "move", title, event)


def day_timeline(
    camera: Camera, day: date, now: datetime | None = None, hour: int | None = None
) -> dict:
    """Bars of the local day, or of one hour of it (`hour`), with the segments, gaps and holds
    in that window."""
    now = now or timezone.now()
    day_start, day_end = day_bounds(day) if hour is None else hour_bounds(day, hour)
    segments = list(
        Segment.objects.filter(camera=camera)
        .chained()
        .overlapping(day_start, day_end)
        .order_by("start")
    )
    for s in Segment.objects.filter(camera=camera, start__lt=day_end).recording():
        s.end = max(s.start, min(now, day_end))  # being written: drawn up to now
        if s.end > day_start or s.start >= day_start:
            segments.append(s)
    gaps = list(Gap.objects.filter(camera=camera).overlapping(day_start, day_end))
    holds = list(LegalHold.objects.filter(camera=camera).active().overlapping(day_start, day_end))
    bars = [
        bar(
            s.start,
            s.end,
            day_start,
            day_end,
            "segment" if s.is_playable else "deleted",
            f"{timezone.localtime(s.start):%H:%M:%S}–{timezone.localtime(s.end):%H:%M:%S} "
            f"{s.get_status_display()}{' (on hold)' if s.on_hold else ''}"
            f"{' (clock not NTP-synchronised)' if s.clock_synced is False else ''}",
            s,
        )
        for s in segments
    ]
    bars += [
        bar(g.start, g.end or min(now, day_end), day_start, day_end, "gap", gap_title(g), g)
        for g in gaps
    ]
    bars += [
        bar(h.start, h.end, day_start, day_end, "hold", f"Legal hold: {h.reason}", h) for h in holds
    ]
    bars += [move_bar(e, day_start, day_end) for e in moves(camera, day_start, day_end)]
    covered = sum(
        (min(s.end, day_end) - max(s.start, day_start)).total_seconds()
        for s in segments
        if s.is_playable
    )
    return {
        "day_start": day_start,
        "day_end": day_end,
        "segments": segments,
        "gaps": gaps,
        "holds": holds,
        "bars": bars,
        "ticks": ticks(day_start, day_end, hour is not None),
        "coverage_percent": 100 * covered / (day_end - day_start).total_seconds(),
    }
