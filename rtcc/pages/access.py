"""Who may open a page: the admin's login (staff), then one permission of rtcc/roles.py (403)."""

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from crimebox.admin_base import page_context

from .. import roles
from ..models import IngestState

View = Callable[..., HttpResponseBase]


def page(permission: str) -> Callable[[View], View]:
    """A console page: the admin's login redirect for strangers, 403 without `permission`."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return admin.site.admin_view(wrapped)

    return decorate


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """A page in the admin's frame (user tools, navigation): the admin's context, then ours."""
    return render(request, template, page_context(request, **context), status=status)


def landing_url(user: Any) -> str:
    """Where a role's work is: the fleet for operators and investigators, the enrolment page
    for an administrator with boxes waiting, the audit trail for an auditor."""
    if user.has_perm(roles.FLEET) and not _only_auditor(user):
        return reverse("rtcc:fleet")
    if user.has_perm(roles.AUDIT_TRAIL):
        return reverse("admin:audit_auditevent_changelist")
    return reverse("admin:index")


def _only_auditor(user: Any) -> bool:
    return user.has_perm(roles.AUDIT_TRAIL) and not user.has_perm(roles.ALERTS)


def login(request: HttpRequest) -> HttpResponse:
    """The admin's (throttled) login; without an explicit ?next= it lands by role."""
    extra = {}
    if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
        extra[REDIRECT_FIELD_NAME] = reverse("rtcc:landing")
    response: HttpResponse = admin.site.login(request, extra_context=extra)
    return response


@admin.site.admin_view
def landing(request: HttpRequest) -> HttpResponseBase:
    return redirect(landing_url(request.user))


def freshness(now: datetime | None = None) -> dict[str, Any]:
    """How old the tables a page shows are: the ingest's last good pass, its last error."""
    now = now or timezone.now()
    state = IngestState.get()
    age = (now - state.last_ok_at).total_seconds() if state.last_ok_at else None
    from django.conf import settings

    stale_after = max(60.0, 10 * settings.RTCC_POLL_SECONDS)
    return {
        "last_ok_at": state.last_ok_at,
        "age_minutes": None if age is None else int(age // 60),
        "stale": age is None or age > stale_after,
        "last_error": state.last_error
        if state.last_error_at
        and (state.last_ok_at is None or state.last_error_at >= state.last_ok_at)
        else "",
    }
