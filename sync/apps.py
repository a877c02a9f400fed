from django.apps import AppConfig


class SyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sync"
    verbose_name = "Replication to the RTCC"

    def ready(self) -> None:
        from crimebox import outbox
        from recordings.health import health_parts

        from . import (
            checks,  # noqa: F401  (registers the replication settings checks)
            status,
        )
        from . import outbox as sync_outbox

        # Every fact reported by the lower layers gets its document in the same transaction.
        outbox.fact.connect(sync_outbox.on_fact, dispatch_uid="sync.outbox")
        outbox.facts.connect(sync_outbox.on_facts, dispatch_uid="sync.outbox.many")
        health_parts.connect(status.health_part, dispatch_uid="sync.health")
        from crimebox import schedules

        schedules.create_after_migrate(self, "sync.tasks")
