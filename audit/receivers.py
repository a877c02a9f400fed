"""Auth events and admin changes into the audit trail.

Django's auth signals are the documented hooks for logins. Every other admin change (users,
groups, and any model) is taken from LogEntry, which every ModelAdmin writes for each
addition, change and deletion. Camera
changes are written by the cameras app itself (cameras/audit.py: one entry shape for the
admin, the commands and the schedule); audit sits below cameras and knows none of it.
"""

from typing import Any, cast

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from . import log
from .models import AuditEvent

_FLAGS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


@receiver(user_logged_in)
def on_login(
    sender: type[Model], request: HttpRequest, user: AbstractBaseUser, **kwargs: Any
) -> None:
    log.record(AuditEvent.Action.LOGIN, request=request, user=user)


@receiver(user_logged_out)
def on_logout(
    sender: type[Model], request: HttpRequest, user: AbstractBaseUser | None, **kwargs: Any
) -> None:
    if user is not None:
        log.record(AuditEvent.Action.LOGOUT, request=request, user=user)


@receiver(user_login_failed)
def on_login_failed(
    sender: str, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # `credentials` has the password already masked by Django; only the name is kept.
    log.record(
        AuditEvent.Action.LOGIN_FAILED,
        request=request,
        username=str(credentials.get("username", ""))[:150],
    )


@receiver(post_save, sender=LogEntry)
def on_admin_change(
    sender: type[LogEntry], instance: LogEntry, created: bool, **kwargs: Any
) -> None:
    if not created:
        return
    # django-stubs leave LogEntry.content_type an unparameterised ForeignKey.
    kind = cast(ContentType, instance.content_type)
    model = kind.model_class() if instance.content_type_id else None
    label = model._meta.label if model else ""
    if label == "cameras.Camera":
        return  # the cameras app writes its own entries (cameras/audit.py)
    # Every other admin change: users, groups, exports, anything registered later.
    log.record(
        AuditEvent.Action.USER_CHANGE
        if label in ("auth.User", "auth.Group")
        else AuditEvent.Action.ADMIN_CHANGE,
        user=instance.user,
        target=f"{model._meta.model_name if model else 'object'} {instance.object_repr}"[:200],
        detail={
            "what": _FLAGS.get(instance.action_flag, "?"),
            "model": label,
            "object_id": instance.object_id,
            "changes": instance.get_change_message(),
        },
    )
