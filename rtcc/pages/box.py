"""One box: its cameras with a day's coverage each, its health over the day as small charts,
its identity (software, ZeroTier, key and enrolment), integrity and alerts.

A fixed number of queries (about ten) whatever the box's history: every list is bounded by the
24-hour window or a LIMIT.
"""

import ipaddress
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .. import roles
from ..models import Alert, Box, Camera, GapRecord, HeartbeatSample, IntegrityProblem, SegmentRecord
from . import drawing
from .access import freshness, page, render_page

DAY = timedelta(hours=24)
# The longest segment the window queries look back for (the box's CRIMEBOX_SEGMENT_SECONDS
# is 15 minutes by default): a segment that started earlier than this before the window and
# still overlaps it would not be drawn. Bounds the index range each query reads.
LONGEST_SEGMENT = timedelta(hours=6)
BOX_WEB_PORT = 8000  # the box's CRIMEBOX_BIND default


def segment_spans(rows: list[Any]) -> list[drawing.Span]:
    return [
        drawing.Span(
            r["start"],
            r["end"],
            f"seg-{r['verification']}",
            f"#{r['sequence']} {r['start']:%H:%M:%S}–{r['end']:%H:%M:%S} {r['verification']}",
        )
        for r in rows
    ]


def gap_span(gap: GapRecord, now: datetime) -> drawing.Span:
    end = gap.end or now
    cause = gap.cause_text or gap.cause or "unknown cause"
    open_ = "" if gap.end else " (still open)"
    return drawing.Span(
        gap.start, end, "gap", f"gap {gap.start:%H:%M:%S}–{end:%H:%M:%S}: {cause}{open_}"
    )


def coverage(cameras: list[Camera], start: datetime, end: datetime) -> dict[int, Any]:
    """Each camera's bar over [start, end): two queries for all the cameras."""
    ids = [c.pk for c in cameras]
    spans: dict[int, list[drawing.Span]] = defaultdict(list)
    segments = (
        SegmentRecord.objects.filter(camera__in=ids, start__gte=start - LONGEST_SEGMENT)
        .filter(start__lt=end, end__gt=start)
        .values("camera_id", "sequence", "start", "end", "verification")
        .order_by("camera_id", "start")
    )
    for row in segments:
        spans[row["camera_id"]].extend(segment_spans([row]))
    gaps = GapRecord.objects.filter(camera__in=ids, start__lt=end).filter(
        Q(end=None) | Q(end__gt=start)
    )
    for gap in gaps:
        spans[gap.camera_id].append(gap_span(gap, min(end, timezone.now())))
    return {
        c.pk: drawing.coverage_bar(spans[c.pk], start, end, f"{c.name}: coverage") for c in cameras
    }


def charts(box: Box, start: datetime, end: datetime) -> list[tuple[str, Any]]:
    samples: list[tuple[Any, ...]] = list(
        HeartbeatSample.objects.filter(box=box, received_at__gte=start, received_at__lt=end)
        .order_by("received_at")
        .values_list(
            "received_at",
            "cpu_temp_millic",
            "throttled",
            "under_voltage",
            "disk_free",
            "load_centi",
            "backlog",
            "clock_synced",
        )
    )

    def series(i: int, scale: float = 1.0) -> list[tuple[datetime, float | None]]:
        return drawing.thin([(s[0], None if s[i] is None else s[i] / scale) for s in samples])

    def flags(i: int, when: bool = True) -> list[tuple[datetime, bool | None]]:
        return [(s[0], s[i] is when) for s in samples]

    return [
        ("Temperature (°C)", drawing.line_chart(series(1, 1000), start, end, "temperature")),
        ("Throttled", drawing.flag_chart(flags(2), start, end, "throttled")),
        ("Under-voltage", drawing.flag_chart(flags(3), start, end, "under-voltage")),
        ("Disk free (GB)", drawing.line_chart(series(4, 1e9), start, end, "disk free", 0)),
        ("Load (1 min)", drawing.line_chart(series(5, 100), start, end, "load", 0)),
        ("Outbox backlog", drawing.line_chart(series(6), start, end, "backlog", 0)),
        ("Clock not synchronised", drawing.flag_chart(flags(7, False), start, end, "clock")),
    ]


def box_address(box: Box) -> str | None:
    """The box's ZeroTier IP, as its latest heartbeat reported it (rtcc/apply.py)."""
    health = box.health if isinstance(box.health, dict) else {}
    for text in health.get("zerotier_ips") or []:
        try:
            ip = ipaddress.ip_address(str(text))
        except ValueError:
            continue
        return f"[{ip}]" if ip.version == 6 else str(ip)
    return None


@page(roles.FLEET)
def box_page(request: HttpRequest, box_id: str) -> HttpResponse:
    now = timezone.now()
    box = get_object_or_404(Box, box_id=box_id)
    cameras = list(box.cameras.order_by("name"))
    start = now - DAY
    bars = coverage(cameras, start, now)
    address = box_address(box)
    context = {
        "title": f"Box {box.box_id}",
        "box": box,
        "cameras": [(c, bars[c.pk]) for c in cameras],
        "charts": charts(box, start, now),
        "start": start,
        "now": now,
        "alerts": list(box.alerts.active().select_related("camera")[:50]),
        "problems": list(IntegrityProblem.objects.filter(box=box).select_related("camera")[:20]),
        "keys": list(box.keys.all()[:10]),
        "admin_url": f"http://{address}:{BOX_WEB_PORT}/" if address else None,
        "live_url": f"http://{address}:{BOX_WEB_PORT}/live/" if address else None,
        "fresh": freshness(now),
        "may_enrol": request.user.has_perm(roles.ENROL),
        "Alert": Alert,
    }
    return render_page(request, "rtcc/box.html", context)
