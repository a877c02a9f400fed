from datetime import datetime

from django.db import models
from django.utils import timezone


class OutboxQuerySet(models.QuerySet["OutboxItem"]):
    def pending(self) -> "OutboxQuerySet":
        return self.filter(state=OutboxItem.State.PENDING)

    def unclaimed(self, lease_expired_before: datetime) -> "OutboxQuerySet":
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

    def __str__(self) -> str:
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

    def __str__(self) -> str:
        return f"sync {self.started_at:%Y-%m-%d %H:%M:%S} {self.result}"


class SyncState(models.Model):
    """The sender's single row: back-off, last success, last error, heartbeat counter."""

    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed passes.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    heartbeat_sequence = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return "sync state"

    @classmethod
    def get(cls) -> "SyncState":
        return cls.objects.get_or_create(pk=1)[0]


class ClipRequestQuerySet(models.QuerySet["ClipRequest"]):
    def open(self) -> "ClipRequestQuerySet":
        """Requests the box still has work on (not answered for good)."""
        return self.filter(state__in=ClipRequest.OPEN)


class ClipRequest(models.Model):
    """A clip the RTCC console asked this box for (docs/sync.md, "Clips on request").

    Written when the box first sees the console-signed request; `doc` keeps the request exactly
    as signed. The job goes received → (waiting) → building → uploading → uploaded, or ends
    refused / failed / cancelled with the box's answer sent to the datacenter. A request not
    signed by the trusted console key is kept as `ignored`, never acted on.
    """

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        WAITING = "waiting", "Waiting for the footage to close"
        BUILDING = "building", "Building the package"
        UPLOADING = "uploading", "Uploading"
        UPLOADED = "uploaded", "Uploaded"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled at the RTCC"
        IGNORED = "ignored", "Ignored (not signed by the RTCC console)"

    OPEN = [State.RECEIVED, State.WAITING, State.BUILDING, State.UPLOADING]

    request = models.CharField(max_length=64, unique=True, help_text="The console's request id.")
    doc = models.TextField(help_text="The request as the console signed it (canonical JSON).")
    camera_name = models.CharField(max_length=200, blank=True)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    case_number = models.CharField(max_length=200, blank=True)
    user = models.CharField(max_length=200, blank=True, help_text="The RTCC user who asked.")
    priority = models.IntegerField(default=0)
    created_at = models.DateTimeField(null=True, blank=True, help_text="At the console.")
    received_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=9, choices=State.choices, default=State.RECEIVED)
    export = models.ForeignKey(
        "recordings.Export", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancel_requested = models.BooleanField(default=False)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    bytes_sent = models.PositiveBigIntegerField(
        default=0, help_text="Chunk bytes put on the link, re-sends after a cut included."
    )
    resumes = models.PositiveIntegerField(default=0, help_text="Uploads resumed after a cut.")
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ClipRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The job runner: open requests by priority, then age.
            models.Index(fields=["state", "priority", "created_at"], name="cliprequest_state"),
        ]

    def __str__(self) -> str:
        return f"RTCC request {self.request}"
