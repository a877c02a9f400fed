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
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from audit import log
from audit.models import AuditEvent

from .. import roles
from ..models import Box, Camera, GapRecord, SegmentRecord
from . import drawing
from .access import freshness, page, render_page
from .box import LONGEST_SEGMENT, gap_span

MAX_WINDOW = timedelta(hours=24)
CAMERAS_PER_PAGE = 25
SHA256 = re.compile(r"[0-9a-f]{64}")
TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class WindowForm(forms.Form):
    start = forms.DateTimeField(input_formats=TIME_FORMATS)
    end = forms.DateTimeField(input_formats=TIME_FORMATS)
    boxes = forms.CharField(required=False, max_length=5000, help_text="Box ids, commas between.")

    def clean_boxes(self) -> list[str]:
        text = self.cleaned_data.get("boxes") or ""
        return sorted({b.strip() for b in text.replace("\n", ",").split(",") if b.strip()})

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
    context["box_choices"] = list(Box.objects.enrolled().values_list("box_id", flat=True))
    status = 400 if (context["form"].errors or context["hash_form"].errors) else 200
    return render_page(request, "rtcc/where.html", context, status=status)
