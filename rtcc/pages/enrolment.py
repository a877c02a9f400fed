"""Enrolment, for administrators: the keys boxes presented, to approve after comparing the
fingerprint with the one the box shows on site (its health page, `manage.py sync_status`), and
the enrolled boxes, to revoke. The decision itself is rtcc/trust.py's (the same functions
as `manage.py rtcc_enrol`, which write the audit entry)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .. import roles, trust
from ..models import Box, BoxKey
from .access import freshness, page, render_page


def decide(request: HttpRequest) -> None:
    action = request.POST.get("action", "")
    box_id = request.POST.get("box", "")[:100]
    fingerprint = request.POST.get("fingerprint", "")[:64]
    if action not in ("approve", "revoke"):
        messages.error(request, "Choose approve or revoke.")
        return
    try:
        # Each writes its own audit entry (who, box, fingerprint).
        if action == "approve":
            trust.enrol(box_id, fingerprint, by=request.user.get_username())
        else:
            trust.revoke(box_id, fingerprint, by=request.user.get_username())
    except trust.EnrolmentError as e:
        messages.error(request, str(e))
        return
    done = (
        "enrolled: its documents are now verified and shown" if action == "approve" else "revoked"
    )
    messages.success(request, f"Box {box_id} {done}.")


@page(roles.ENROL)
@require_http_methods(["GET", "POST"])
def enrolment(request: HttpRequest) -> HttpResponseBase:
    if request.method == "POST":
        decide(request)
        return redirect("rtcc:enrolment")
    pending = BoxKey.objects.filter(state=Box.Enrolment.PENDING).select_related("box")
    context = {
        "title": "Enrolment",
        "pending": list(pending.order_by("first_seen_at")[:200]),
        "enrolled": list(
            Box.objects.enrolled().only("box_id", "fingerprint", "enrolled_at", "enrolled_by")[
                :1000
            ]
        ),
        "revoked": list(Box.objects.filter(enrolment=Box.Enrolment.REVOKED)[:200]),
        "fresh": freshness(timezone.now()),
    }
    response: HttpResponse = render_page(request, "rtcc/enrolment.html", context)
    return response
