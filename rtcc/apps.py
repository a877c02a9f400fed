from django.apps import AppConfig

from audit.apps import AuditConfig


class RtccConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "rtcc"
    verbose_name = "RTCC console"

    def ready(self) -> None:
        from . import admin  # noqa: F401  (SimpleAdminConfig: the console registers its own)


class ConsoleAuditConfig(AuditConfig):
    """The box's audit app in the console: the hash-chained trail, the throttled login and the
    user/group admin locks, but not the box's roles (they name the box's footage permissions;
    the console's roles are its own, docs/rtcc.md)."""

    def ready(self) -> None:
        from django.contrib import admin

        from audit import admin as audit_admin  # noqa: F401  (no autodiscover in the console)
        from audit import receivers  # noqa: F401  (the auth and admin-change receivers)
        from audit.access import lock_down
        from audit.throttle import ThrottledAuthenticationForm

        admin.site.login_form = ThrottledAuthenticationForm
        lock_down(admin.site)
