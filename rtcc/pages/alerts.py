"""Alerts: what the ingest raised and resolved, active first, newest first, a page at a time."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .. import roles
from ..models import Alert
from .access import freshness, page, render_page

PER_PAGE = 50
SHOWS = {"active": "Active", "resolved": "Resolved", "all": "All"}


@page(roles.ALERTS)
def alerts(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "active")
    if show not in SHOWS:
        show = "active"
    rows = Alert.objects.select_related("box", "camera").order_by("-raised_at", "-pk")
    if show == "active":
        rows = rows.active()
    elif show == "resolved":
        rows = rows.exclude(resolved_at=None)
    box = request.GET.get("box", "")[:100]
    if box:
        rows = rows.filter(box__box_id=box)
    # No full count on a big table: the paginator counts once, with the filter's index.
    page_obj = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "title": "Alerts",
        "page_obj": page_obj,
        "show": show,
        "shows": SHOWS,
        "box": box,
        "active_count": Alert.objects.active().count(),
        "fresh": freshness(timezone.now()),
    }
    return render_page(request, "rtcc/alerts.html", context)
