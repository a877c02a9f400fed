"""The box's first administrator: made on the first start with a one-time password.

`init_box` (run by `bootstrap.sh start` and `install`) creates the superuser `admin` when the box
has no superuser, prints its random password once, and records the password's hash in the keys
directory. While that user still has that hash, every page it opens sends it to the password
change form: the printed password works for one login only. Nothing is logged.
"""

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

USERNAME = "admin"


def pending_file() -> Path:
    return Path(settings.KEYS_DIR) / "first-admin-password"


def ensure_first_admin() -> tuple[str, str] | None:
    """(user name, one-time password) when this call created the first administrator."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(USERNAME, email="", password=password)
    fd = os.open(pending_file(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"user": user.pk, "password": user.password}, f)
    return USERNAME, password


def must_change_password(user: AbstractBaseUser | AnonymousUser) -> bool:
    path = pending_file()
    if not user.is_authenticated or not path.is_file():
        return False
    try:
        pending = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if pending.get("user") != user.pk:
        return False
    if pending.get("password") != user.password:
        path.unlink(missing_ok=True)  # changed: the one-time password is spent
        return False
    return True


class FirstPasswordMiddleware:
    """Sends the first administrator to the password change form until it has changed it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if must_change_password(request.user):
            allowed = {
                reverse("admin:password_change"),
                reverse("admin:password_change_done"),
                reverse("admin:logout"),
            }
            if request.path not in allowed and not request.path.startswith(settings.STATIC_URL):
                return redirect("admin:password_change")
        return self.get_response(request)
