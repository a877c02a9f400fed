"""Content-Security-Policy (Django 5.2 has none built in), the proxy header only from the
proxy, and the password rules."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.http.response import HttpResponseBase

GetResponse = Callable[[HttpRequest], HttpResponseBase]


class ContentSecurityPolicyMiddleware:
    """Adds settings.CONTENT_SECURITY_POLICY to every response that has none."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


class TrustedProxyMiddleware:
    """X-Forwarded-Proto counts only from the TLS proxy (settings.TRUSTED_PROXY). With
    CRIMEBOX_HTTPS Django believes the header (SECURE_PROXY_SSL_HEADER); from anyone else,
    over plain HTTP, it would let a client pass for HTTPS and skip the redirect."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.META.get("REMOTE_ADDR") not in settings.TRUSTED_PROXY:
            request.META.pop("HTTP_X_FORWARDED_PROTO", None)
        return self.get_response(request)


class UserNameValidator:
    """Refuses a password that contains the user name or is one short piece repeated.

    Django's similarity check lets `staffstaff` through for user `staff` (ratio 0.67 < 0.7).
    """

    def validate(self, password: str, user: Any = None) -> None:
        folded = password.casefold()
        # No name yet when the form refused it (taken as "Admin", "admin " or "ａｄｍｉｎ").
        name = ((user.get_username() if user is not None else "") or "").casefold()
        if len(name) >= 3 and name in folded:
            raise ValidationError(
                "The password may not contain the user name.", code="password_has_username"
            )
        for size in range(1, len(folded) // 2 + 1):
            if len(folded) % size == 0 and folded[:size] * (len(folded) // size) == folded:
                raise ValidationError(
                    "The password may not be one short piece repeated.", code="password_repeated"
                )

    def get_help_text(self) -> str:
        return "Your password can't contain your user name or be one short piece repeated."


class NewPasswordValidator:
    """Refuses a new password equal to the current one: "changing" the first administrator's
    one-time password to itself lifted the forced change (crimebox/first_admin.py)."""

    def validate(self, password: str, user: Any = None) -> None:
        current = getattr(user, "password", "") or ""
        # hashers.check_password, not user.check_password: that one may re-hash and save.
        if current and check_password(password, current):
            raise ValidationError(
                "The new password must differ from the current one.", code="password_unchanged"
            )

    def get_help_text(self) -> str:
        return "Your new password must differ from your current one."
