from django.db import models
from django.utils import timezone


class OutboxQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(state=OutboxItem.State.PENDING)

    def unclaimed(self, lease_expired_before):
        """Pending rows no live sender holds (a claim older than the lease is a dead worker's)."""
        return self.pending().filter(
            models.Q(claimed_at=None) | models.Q(claimed_at__lt=lease_expired_before)
        )


class OutboxItem(models.Model):
    """One signed document waiting for (or delivered to) the RTCC's MongoDB.

    Written in the same transaction as the fact it reports; `body` is the document's canonical
    encoding (docs/sync.md), the exact bytes its signature covers, never changed afterwards.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Delivered"
        MISMATCH = "mismatch", "Different at the datacenter"

    doc_id = models.CharField(max_length=300, unique=True, help_text="The document's _id.")
    collection = models.CharField(max_length=30)
    kind = models.CharField(max_length=30)
    body = models.TextField(help_text="Canonical JSON, signature included.")
    size = models.PositiveIntegerField(help_text="Bytes of the body.")
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    objects = OutboxQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            # The sender's claim (oldest pending first) and the backlog by kind in health.
            models.Index(fields=["state", "kind", "id"], name="outbox_state_kind"),
            # Pruning delivered rows and heartbeats by age.
            models.Index(fields=["state", "created_at"], name="outbox_state_created"),
            # The claim's second step: the rows this sender holds.
            models.Index(fields=["claim"], name="outbox_claim"),
        ]

    def __str__(self):
        return self.doc_id


class SyncLog(models.Model):
    """One attempt to send a batch (or to reach the datacenter at all)."""

    class Result(models.TextChoices):
        OK = "ok", "Delivered"
        FAILED = "failed", "Failed (kept pending)"
        MISMATCH = "mismatch", "Different copy at the datacenter"

    started_at = models.DateTimeField(default=timezone.now)
    duration = models.FloatField(default=0, help_text="Seconds.")
    items = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)
    result = models.CharField(max_length=8, choices=Result.choices)
    error = models.TextField(blank=True, help_text="Credentials redacted.")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["result", "started_at"], name="synclog_result_started")]

    def __str__(self):
        return f"sync {self.started_at:%Y-%m-%d %H:%M:%S} {self.result}"


class SyncState(models.Model):
    """The sender's single row: back-off, last success, last error, heartbeat counter."""

    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed passes.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    heartbeat_sequence = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return "sync state"

    @classmethod
    def get(cls) -> "SyncState":
        return cls.objects.get_or_create(pk=1)[0]
