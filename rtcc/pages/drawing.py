"""Small pictures drawn on the server as inline SVG: coverage bars and health charts.

No script, no library: the page's HTML holds the picture (the CSP allows it as it is).
Coordinates are in a 1000 × 100 box the SVG stretches to its CSS size.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH = 1000.0
HEIGHT = 100.0


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime
    kind: str  # a CSS class: seg-verified, seg-unlinked, seg-broken, gap
    title: str


def _x(t: datetime, start: datetime, end: datetime) -> float:
    total = (end - start).total_seconds() or 1.0
    return max(0.0, min(WIDTH, WIDTH * (t - start).total_seconds() / total))


def coverage_bar(spans: Iterable[Span], start: datetime, end: datetime, label: str) -> SafeString:
    """One camera's window as a bar: segments green (by verification), gaps orange, with
    a tooltip (<title>) each; what is neither stays grey (nothing replicated)."""
    rects = []
    for s in spans:
        x0, x1 = _x(s.start, start, end), _x(s.end, start, end)
        rects.append((s.kind, f"{x0:.1f}", f"{max(x1 - x0, 0.8):.1f}", s.title))
    body = format_html_join(
        "",
        '<rect class="{}" x="{}" y="0" width="{}" height="100"><title>{}</title></rect>',
        rects,
    )
    return format_html(
        '<svg class="rtcc-bar" viewBox="0 0 1000 100" preserveAspectRatio="none" role="img" '
        'aria-label="{}"><rect class="ground" x="0" y="0" width="1000" height="100"></rect>'
        "{}</svg>",
        label,
        body,
    )


def line_chart(
    points: Sequence[tuple[datetime, float | None]],
    start: datetime,
    end: datetime,
    label: str,
    floor: float | None = None,
) -> SafeString:
    """A value over the window as a polyline scaled to its own range (from `floor` when
    given, e.g. 0 for a disk); a missing value breaks the line."""
    values = [v for _, v in points if v is not None]
    if not values:
        return format_html('<p class="help">{}: no samples</p>', label)
    low = min(values) if floor is None else min(floor, min(values))
    high = max(values)
    span = (high - low) or 1.0
    lines: list[list[str]] = []
    current: list[str] = []
    for t, v in points:
        if v is None:
            if current:
                lines.append(current)
            current = []
            continue
        y = HEIGHT - 4 - (HEIGHT - 8) * (v - low) / span
        current.append(f"{_x(t, start, end):.1f},{y:.1f}")
    if current:
        lines.append(current)
    body = mark_safe(
        "".join(f'<polyline points="{" ".join(line)}"></polyline>' for line in lines)
    )  # numbers only: nothing from a document reaches this string
    return format_html(
        '<svg class="rtcc-chart" viewBox="0 0 1000 100" preserveAspectRatio="none" role="img" '
        'aria-label="{}"><rect class="ground" x="0" y="0" width="1000" height="100"></rect>'
        "{}</svg>",
        label,
        body,
    )


def flag_chart(
    points: Sequence[tuple[datetime, bool | None]], start: datetime, end: datetime, label: str
) -> SafeString:
    """A yes/no over the window (throttled, under-voltage, clock not synchronised): a red
    mark where it was true."""
    # One mark per drawn position: a day of one-a-minute samples is 1,440 of them.
    xs = sorted({round(_x(t, start, end)) for t, flag in points if flag})
    marks = [(str(x),) for x in xs]
    body = format_html_join(
        "", '<rect class="flag" x="{}" y="10" width="3" height="80"></rect>', marks
    )
    return format_html(
        '<svg class="rtcc-chart" viewBox="0 0 1000 100" preserveAspectRatio="none" role="img" '
        'aria-label="{}"><rect class="ground" x="0" y="0" width="1000" height="100"></rect>'
        "{}</svg>",
        label,
        body,
    )


def thin(points: list[tuple[datetime, float | None]], most: int = 300) -> list:
    """At most `most` points (every k-th): a day of one-a-minute heartbeats is 1,440."""
    step = max(1, len(points) // most)
    return points[::step]
