from django.apps import AppConfig


class LiveConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "live"
    verbose_name = "Live view"

    def ready(self) -> None:
        from django.core.checks import Tags, register

        from .checks import check_live_settings

        register(check_live_settings, Tags.compatibility)
