from django.apps import AppConfig


class CamerasConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cameras"

    def ready(self):
        from crimebox import checks  # noqa: F401  (registers the system checks)
