from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recordings"

    def ready(self) -> None:
        from crimebox import schedules

        from . import checks  # noqa: F401  (registers the system checks)

        schedules.create_after_migrate(self, "recordings.tasks")
