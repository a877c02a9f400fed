"""Failed-login throttling, counted from the audit trail so every gunicorn worker agrees."""

import unicodedata
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.db.models import Q
from django.utils import timezone

from . import log
from .models import AuditEvent


def recent_failures(username: str, ip: str | None, now: datetime | None = None) -> int:
    since = (now or timezone.now()) - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    who = Q(username__iexact=username) if username else Q(pk__in=[])
    if ip:
        who |= Q(client_ip=ip)
    return AuditEvent.objects.filter(
        who, action=AuditEvent.Action.LOGIN_FAILED, at__gte=since
    ).count()


class ThrottledAuthenticationForm(AdminAuthenticationForm):
    """Refuses logins for a user name or an address with too many recent failures,
    without checking the password (so guessing gains nothing while locked)."""

    def clean(self) -> dict[str, Any]:
        # Counted under the name the login form normalises to (NFKC, as Django's UsernameField
        # and the failure entries do): a look-alike such as fullwidth "ｔｅｃｈ" is "tech".
        username = unicodedata.normalize("NFKC", self.data.get("username") or "").strip()
        ip = log.client_ip(self.request)
        if recent_failures(username, ip) >= settings.LOGIN_MAX_FAILURES:
            minutes = max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))
            log.record(
                AuditEvent.Action.LOGIN_FAILED,
                request=self.request,
                username=username,
                detail={"refused": "too many failed logins"},
            )
            raise forms.ValidationError(
                f"Too many failed logins; try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}.",
                code="throttled",
            )
        return super().clean()
