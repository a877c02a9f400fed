"""The fleet: every enrolled box and its cameras on a map, and the same boxes as a sortable list.

Three queries whatever the fleet's size (boxes, cameras, pending count) plus the freshness row.
The markers go to the page as JSON (json_script) for rtcc/static/rtcc/fleet.js: no inline
script, no request to anything but the console unless a tile server is configured.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .. import roles
from ..models import Box, Camera
from .access import freshness, page, render_page

# Worst first: the list's default order puts what needs a person on top.
STATE_ORDER: dict[str, int] = {
    Box.State.DARK: 0,
    Box.State.DEGRADED: 1,
    Box.State.NEVER_SEEN: 2,
    Box.State.RECORDING: 3,
}
SORTS = ("state", "box", "contact", "backlog", "free")
# State labels by plain lookup: get_state_display() for 500 boxes and 2,000 cameras took ~20 ms
# of the fleet page (bench/rtcc_pages.py).
BOX_STATES: dict[str, str] = dict(Box.State.choices)
CAMERA_STATES: dict[str, str] = dict(Camera.State.choices)
HOST = re.compile(r"[A-Za-z0-9*.-]+(:[0-9]{1,5})?")


def camera_class(state: str) -> str:
    """A camera's colour on the map, in the fleet's four words."""
    if state == Camera.State.RECORDING:
        return "recording"
    if state == Camera.State.DARK:
        return "dark"
    if state == Camera.State.NEVER_SEEN:
        return "never_seen"
    return "degraded"  # not recording, disabled


def free_bytes(health: dict[str, Any]) -> int | None:
    value = health.get("disk_free")  # rtcc/apply.py: the latest heartbeat, summed up
    return value if isinstance(value, int) else None


def backlog(health: dict[str, Any]) -> int | None:
    value = health.get("backlog")
    return value if isinstance(value, int) else None


@dataclass
class FleetRow:
    box: Box
    cameras: list[Any] = field(default_factory=list)  # (camera_id, name, latitude, …) rows
    free: int | None = None
    backlog: int | None = None
    contact_minutes: int | None = None

    @property
    def position(self) -> tuple[float, float] | None:
        """The mean of its cameras' coordinates (a box has none of its own)."""
        placed = [
            (c.latitude, c.longitude)
            for c in self.cameras
            if c.latitude is not None and c.longitude is not None
        ]
        if not placed:
            return None
        lat = sum((p[0] for p in placed), Decimal(0)) / len(placed)
        lon = sum((p[1] for p in placed), Decimal(0)) / len(placed)
        return float(lat), float(lon)


def fleet_rows(now: datetime) -> list[FleetRow]:
    rows = {b.pk: FleetRow(b) for b in Box.objects.enrolled().defer("public_key_pem", "cursors")}
    cameras = Camera.objects.filter(box__enrolment=Box.Enrolment.ENROLLED).order_by("name")
    # Named tuples, not model instances: building 2,000 Camera objects took ~30 ms of the page.
    fields = ("box_id", "camera_id", "name", "latitude", "longitude", "facing_degrees", "state")
    for camera in cameras.values_list(*fields, named=True):
        rows[camera.box_id].cameras.append(camera)
    for row in rows.values():
        row.free, row.backlog = free_bytes(row.box.health), backlog(row.box.health)
        if row.box.last_contact_at:
            row.contact_minutes = int((now - row.box.last_contact_at).total_seconds() // 60)
    return list(rows.values())


def sort_rows(rows: list[FleetRow], sort: str) -> list[FleetRow]:
    """`sort` is one of SORTS, "-" in front for the other way round; missing values last."""
    key, reverse_ = sort.lstrip("-"), sort.startswith("-")
    if key not in SORTS:
        key, reverse_ = "state", False

    def value(row: FleetRow) -> Any:
        return {
            "state": STATE_ORDER.get(row.box.state, 9),
            "box": row.box.box_id,
            # Longest silence first: the oldest contact is the most urgent.
            "contact": row.box.last_contact_at.timestamp() if row.box.last_contact_at else None,
            "backlog": row.backlog,
            "free": row.free,
        }[key]

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    present.sort(key=lambda r: (value(r), r.box.box_id), reverse=reverse_)
    return present + sorted(missing, key=lambda r: r.box.box_id)


def box_urls() -> Callable[[str], str]:
    """Box page URLs with one resolver call for the whole fleet (500 of them cost ~20 ms)."""
    prefix = reverse("rtcc:box", args=["x"])[: -len("x/")]
    return lambda box_id: f"{prefix}{quote(box_id, safe='')}/"


def list_rows(rows: list[FleetRow], box_url: Callable[[str], str]) -> SafeString:
    """The list's rows, built here rather than in a template loop: at 500 boxes the template
    engine took ~150 ms of a 230 ms page (bench/rtcc_pages.py)."""
    cells = []
    for row in rows:
        box = row.box
        reason = format_html('<br><span class="help">{}</span>', box.state_reason)
        contact = "never"
        if box.last_contact_at:
            contact = format_html(
                '{} min ago<br><span class="help">{}</span>',
                row.contact_minutes,
                f"{timezone.localtime(box.last_contact_at):%Y-%m-%d %H:%M:%S}",
            )
        n = len(row.cameras)
        cells.append((
            box.box_id, box.state, box_url(box.box_id), box.box_id, n, "" if n == 1 else "s",
            box.state, BOX_STATES.get(box.state, box.state),
            reason if box.state_reason else "", contact,
            "—" if row.backlog is None else row.backlog,
            "—" if row.free is None else filesizeformat(row.free),
        ))  # fmt: skip
    return format_html_join(
        "\n",
        '<tr id="box-{}" class="rtcc-row-{}"><td><a href="{}">{}</a><br><span class="help">'
        '{} camera{}</span></td><td><span class="rtcc-state rtcc-{}">{}</span>{}</td>'
        '<td class="contact">{}</td><td class="backlog">{}</td><td class="free">{}</td></tr>',
        cells,
    )


def unplaced_note(rows: list[FleetRow], box_url: Callable[[str], str]) -> SafeString:
    """The boxes the map cannot draw, named beside it: a box is drawn where its cameras are
    and has no position of its own, and the console never makes one up for evidence."""
    missing = sorted(row.box.box_id for row in rows if row.position is None)
    if not missing:
        return SafeString("")
    links = format_html_join(", ", '<a href="{}">{}</a>', ((box_url(b), b) for b in missing))
    whose = "no camera of theirs has" if len(missing) > 1 else "none of its cameras has"
    return format_html(
        '<p id="fleet-unplaced" class="help">Not on the map: {} — {} a location; set it on the '
        "box: Cameras → edit → Location.</p>",
        links,
        whose,
    )


def markers(rows: list[FleetRow], box_url: Callable[[str], str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows:
        url = box_url(row.box.box_id)
        where = row.position
        if where is not None:
            tip = f"{row.box.box_id}: {BOX_STATES.get(row.box.state, row.box.state)}"
            out.append(
                {
                    "kind": "box",
                    "id": row.box.box_id,
                    "box": row.box.box_id,
                    "state": row.box.state,
                    "lat": where[0],
                    "lon": where[1],
                    "tip": tip,
                    "url": url,
                }
            )
        for c in row.cameras:
            if c.latitude is None or c.longitude is None:
                continue
            tip = f"{row.box.box_id} / {c.name}: {CAMERA_STATES.get(c.state, c.state)}"
            out.append(
                {
                    "kind": "camera",
                    "id": f"{row.box.box_id}/{c.camera_id}",
                    "box": row.box.box_id,
                    "state": camera_class(c.state),
                    "lat": float(c.latitude),
                    "lon": float(c.longitude),
                    # Compass degrees (0 north, 90 east) or None: drawn as a wedge when known.
                    "facing": c.facing_degrees,
                    "tip": tip,
                    "url": url,
                }
            )
    return out


def tile_origin(url: str) -> str:
    """The scheme://host[:port] of a tile URL template ({s} becomes the wildcard *), or ""
    for anything else: nothing but a host name reaches the Content-Security-Policy."""
    parts = urlsplit(url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not HOST.fullmatch(parts.netloc):
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def fleet_policy(base: str, tile_url: str) -> str:
    """The console's CSP, with the tile server's origin added to img-src when there is one."""
    origin = tile_origin(tile_url)
    if not origin:
        return base
    directives = [d.strip() for d in base.split(";") if d.strip()]
    if not any(d.startswith("img-src") for d in directives):
        directives.append("img-src 'self'")
    directives = [f"{d} {origin}" if d.startswith("img-src") else d for d in directives]
    return "; ".join(directives)


@page(roles.FLEET)
def fleet(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    sort = request.GET.get("sort", "state")
    rows = sort_rows(fleet_rows(now), sort)
    urls = box_urls()
    tile_url = settings.RTCC_TILE_URL
    context = {
        "title": "Fleet",
        "rows": rows,
        "list_rows": list_rows(rows, urls),
        "sort": sort,
        "sort_headers": [
            ("box", "Box"),
            ("state", "State"),
            ("contact", "Last contact"),
            ("backlog", "Backlog"),
            ("free", "Free space"),
        ],
        "map": {"markers": markers(rows, urls), "tile_url": tile_url},
        "unplaced": unplaced_note(rows, urls),
        "pending": Box.objects.filter(enrolment=Box.Enrolment.PENDING).count(),
        "fresh": freshness(now),
        "counts": {s: sum(1 for r in rows if r.box.state == s) for s in STATE_ORDER},
        "may_enrol": request.user.has_perm(roles.ENROL),
    }
    response = render_page(request, "rtcc/fleet.html", context)
    response["Content-Security-Policy"] = fleet_policy(settings.CONTENT_SECURITY_POLICY, tile_url)
    return response
