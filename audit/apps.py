from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.contrib import admin

        from . import receivers  # noqa: F401  (connects the auth and admin-change receivers)
        from .access import lock_down
        from .throttle import ThrottledAuthenticationForm

        admin.site.login_form = ThrottledAuthenticationForm
        lock_down(admin.site)  # the admin's autodiscover ran first (contrib.admin's ready)
        # Migration 0002 creates the roles; after every migrate (and flush) they are brought
        # back in step, so permissions added by later migrations reach the groups too.
        post_migrate.connect(_sync_roles, sender=self)


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    from .roles import sync_roles

    sync_roles()
