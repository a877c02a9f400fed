from django.apps import AppConfig


class CamerasConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cameras"

    def ready(self) -> None:
        from crimebox import schedules

        schedules.create_after_migrate(self, "cameras.tasks")
