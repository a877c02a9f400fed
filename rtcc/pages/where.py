"""Where and when: every camera with footage in a window (all boxes or some), its coverage and
gaps, each segment's SHA-256 and whether its chain verified at the datacenter; and "which box
recorded the file with SHA-256 X". Evidence: every answer is an entry in the audit trail.

Cameras are listed a page at a time, so the queries stay bounded (six, whatever the fleet)
and the page small: over an hour of 500 boxes × 4 cameras there are ~10,000 segments.
"""

import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from audit import log
from audit.models import AuditEvent

from .. import roles
from ..models import Box, Camera, GapRecord, SegmentRecord
from . import drawing
from .access import freshness, page, render_page
from .box import LONGEST_SEGMENT, gap_span
from .fleet import box_urls, fleet_policy, fleet_rows, markers

MAX_WINDOW = timedelta(hours=24)
CAMERAS_PER_PAGE = 25
SHA256 = re.compile(r"[0-9a-f]{64}")
TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
# A neighbourhood, not the city: beyond this many, "all" (none picked) is the search meant, and
# the cap bounds the query's IN list and the audit entry.
MAX_BOXES = 100


class BoxesField(forms.Field):
    """The `boxes` values: one box id each (the list and the map send one per box) or, typed or
    linked by hand, several ids with commas between."""

    widget = forms.SelectMultiple

    def to_python(self, value: Any) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        return sorted({str(v).strip() for v in values} - {""})


def split_at_commas(values: list[str]) -> set[str]:
    return {part.strip() for v in values for part in v.split(",")} - {""}


def enrolled_among(ids: set[str]) -> set[str]:
    if not ids:
        return set()
    return set(Box.objects.enrolled().filter(box_id__in=ids).values_list("box_id", flat=True))


def too_many(count: int) -> forms.ValidationError:
    return forms.ValidationError(
        f"Pick at most {MAX_BOXES} boxes ({count} picked), or none for all boxes."
    )


class WindowForm(forms.Form):
    start = forms.DateTimeField(input_formats=TIME_FORMATS)
    end = forms.DateTimeField(input_formats=TIME_FORMATS)
    boxes = BoxesField(required=False)

    def clean_boxes(self) -> list[str]:
        values: list[str] = self.cleaned_data["boxes"]
        if len(values) > MAX_BOXES:  # each value names a box at least: no need to look
            raise too_many(len(values))
        whole = enrolled_among(set(values))
        # A value that is not an enrolled box's id as it stands was typed with commas between
        # ids; a box whose own id holds a comma is still found whole.
        ids = whole | split_at_commas([v for v in values if v not in whole])
        if len(ids) > MAX_BOXES:
            raise too_many(len(ids))
        unknown = sorted(ids - whole - enrolled_among(ids - whole))
        if unknown:
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise forms.ValidationError(
                f"No enrolled box named {', '.join(unknown[:5])}{more}: pick boxes from the list."
            )
        return sorted(ids)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end <= start:
                raise forms.ValidationError("The window must end after it starts.")
            if end - start > MAX_WINDOW:
                raise forms.ValidationError("A window is at most 24 hours; pick a shorter one.")
        return data


class HashForm(forms.Form):
    sha256 = forms.CharField(max_length=64, min_length=64)

    def clean_sha256(self) -> str:
        value = self.cleaned_data["sha256"].strip().lower()
        if not SHA256.fullmatch(value):
            raise forms.ValidationError("A SHA-256 is 64 hexadecimal digits.")
        return value


def window_segments(start: datetime, end: datetime, box_ids: list[str]) -> Any:
    """Segments of enrolled boxes overlapping [start, end) (the start index bounds the read)."""
    segments = SegmentRecord.objects.filter(
        start__gte=start - LONGEST_SEGMENT,
        start__lt=end,
        end__gt=start,
        box__enrolment=Box.Enrolment.ENROLLED,
    )
    if not box_ids:
        return segments
    # Through the boxes' cameras, so that SQLite reads each camera's window from
    # rtcc_segment_camera_start: given `box_id IN (...)` it read each box's whole history
    # through the foreign key instead (30 days, 250 boxes named: the page took 613 ms, now 55).
    return segments.filter(camera__in=Camera.objects.filter(box__box_id__in=box_ids))


def window_cameras(start: datetime, end: datetime, box_ids: list[str]) -> list[int]:
    """The cameras with footage in the window, read from the covering rtcc_segment_window
    index alone (the rows of a window are scattered over the whole table)."""
    found = window_segments(start, end, box_ids).order_by().values_list("camera_id", flat=True)
    return sorted(found.distinct())


def camera_blocks(
    camera_ids: list[int], start: datetime, end: datetime, box_ids: list[str]
) -> list:
    """Per camera of the page: its bar and its segments (three queries for the page)."""
    found = Camera.objects.filter(pk__in=camera_ids).select_related("box")
    cameras = sorted(found, key=lambda c: (c.box.box_id, c.name))
    segs: dict[int, list[SegmentRecord]] = defaultdict(list)
    rows = window_segments(start, end, box_ids).filter(camera__in=camera_ids).order_by("start")
    for s in rows.only(
        "camera_id",
        "sequence",
        "start",
        "end",
        "sha256",
        "size",
        "verification",
        "deleted_on_box",
        "on_hold",
        "doc_id",
    ):
        segs[s.camera_id].append(s)
    spans: dict[int, list[drawing.Span]] = defaultdict(list)
    for cid, items in segs.items():
        spans[cid] = [
            drawing.Span(s.start, s.end, f"seg-{s.verification}", f"#{s.sequence} {s.verification}")
            for s in items
        ]
    gaps = GapRecord.objects.filter(camera__in=camera_ids, start__lt=end).filter(
        Q(end=None) | Q(end__gt=start)
    )
    gap_lists: dict[int, list[GapRecord]] = defaultdict(list)
    for gap in gaps.order_by("start"):
        gap_lists[gap.camera_id].append(gap)
        spans[gap.camera_id].append(gap_span(gap, min(end, timezone.now())))
    return [
        {
            "camera": c,
            "segments": segs[c.pk],
            "gaps": gap_lists[c.pk],
            "bar": drawing.coverage_bar(spans[c.pk], start, end, f"{c.box.box_id} {c.name}"),
        }
        for c in cameras
    ]


def default_window(now: datetime) -> dict[str, str]:
    local = timezone.localtime(now).replace(second=0, microsecond=0)
    return {
        "start": f"{local - timedelta(hours=1):%Y-%m-%dT%H:%M}",
        "end": f"{local:%Y-%m-%dT%H:%M}",
    }


def search_window(request: HttpRequest, form: WindowForm) -> dict[str, Any]:
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    box_ids = form.cleaned_data["boxes"]
    camera_ids = window_cameras(start, end, box_ids)
    paginator = Paginator(camera_ids, CAMERAS_PER_PAGE)
    page_obj = paginator.get_page(request.GET.get("page"))
    log.record(
        AuditEvent.Action.VIEW,
        request=request,
        target=f"RTCC where and when {start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M}",
        detail={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "boxes": box_ids or "all",
            "cameras": len(camera_ids),
            "page": page_obj.number,
        },
    )
    return {
        "blocks": camera_blocks(list(page_obj.object_list), start, end, box_ids),
        "page_obj": page_obj,
        "camera_count": len(camera_ids),
        "start": start,
        "end": end,
    }


def search_hash(request: HttpRequest, form: HashForm) -> dict[str, Any]:
    sha = form.cleaned_data["sha256"]
    found = list(
        SegmentRecord.objects.filter(sha256=sha, box__enrolment=Box.Enrolment.ENROLLED)
        .select_related("box", "camera")
        .order_by("start")[:50]
    )
    log.record(
        AuditEvent.Action.VIEW,
        request=request,
        target=f"RTCC which box recorded sha256 {sha}",
        detail={
            "sha256": sha,
            "found": [f"{s.box.box_id}/{s.camera.name}#{s.sequence}" for s in found],
        },
    )
    return {"hash_results": found, "sha256": sha}


def box_options(box_ids: list[str], picked: set[str]) -> SafeString:
    """The list's options (built here: a template loop over 500 boxes is slow, see fleet.py)."""
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((b, " selected" if b in picked else "", b) for b in box_ids),
    )


def box_picker(request: HttpRequest, now: datetime) -> dict[str, Any]:
    """The enrolled boxes to pick from, as a list and as the map's markers; what the request
    picked stays picked (known ids) even when the form is sent back with an error."""
    rows = fleet_rows(now)
    box_ids = sorted(r.box.box_id for r in rows)
    values = BoxesField().to_python(request.GET.getlist("boxes"))
    picked = set(values) | split_at_commas(values)
    return {
        "box_options": box_options(box_ids, picked),
        "box_count": len(box_ids),
        "map": {"markers": markers(rows, box_urls()), "tile_url": settings.RTCC_TILE_URL},
    }


@page(roles.EVIDENCE)
def where(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context: dict[str, Any] = {
        "title": "Where and when",
        "fresh": freshness(now),
        "tz": timezone.get_current_timezone_name(),
    }
    if "sha256" in request.GET:
        hash_form = HashForm(request.GET)
        if hash_form.is_valid():
            context.update(search_hash(request, hash_form))
        context["hash_form"] = hash_form
    else:
        context["hash_form"] = HashForm()
    if "start" in request.GET:
        form = WindowForm(request.GET)
        if form.is_valid():
            context.update(search_window(request, form))
    else:
        form = WindowForm(initial=default_window(now))
    context["form"] = form
    context.update(box_picker(request, now))
    # The pager's links keep every value of a repeated parameter (`boxes`), not just the last.
    query = request.GET.copy()
    query.pop("page", None)
    context["page_query"] = query.urlencode()
    status = 400 if (context["form"].errors or context["hash_form"].errors) else 200
    response = render_page(request, "rtcc/where.html", context, status=status)
    response["Content-Security-Policy"] = fleet_policy(
        settings.CONTENT_SECURITY_POLICY, settings.RTCC_TILE_URL
    )
    return response
