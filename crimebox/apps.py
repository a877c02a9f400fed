from django.apps import AppConfig


class CrimeboxConfig(AppConfig):
    """The project's own app: no models; it registers the box-wide system checks."""

    name = "crimebox"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
