from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The pages a person uses: front page, landing per role, health in words, exports."""

    name = "console"
    verbose_name = "Console"
