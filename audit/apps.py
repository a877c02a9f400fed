from django.apps import AppConfig


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from django.contrib import admin

        from . import receivers  # noqa: F401  (connects the auth and admin-change receivers)
        from .throttle import ThrottledAuthenticationForm

        admin.site.login_form = ThrottledAuthenticationForm
