from django.apps import AppConfig


class LiveConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "live"
    verbose_name = "Live view"

    def ready(self) -> None:
        from django.core.checks import Tags, register

        from recordings.health import health_parts

        from . import status
        from .checks import check_live_settings

        register(check_live_settings, Tags.compatibility)
        health_parts.connect(status.health_part, dispatch_uid="live.health")
