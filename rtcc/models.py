"""The console's read models: what the ingest (rtcc/ingest.py) built from the boxes' ledger.

Pages read these tables only, never MongoDB. Every row names the ledger document it came from
(`doc_id`, the box's `n`), so an auditor can go from a page back to the signed document.
"""

from django.db import models
from django.urls import reverse
from django.utils import timezone


class IngestState(models.Model):
    """The ingest's single row: when it last ran, and its last error (pages say how stale)."""

    last_pass_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    documents = models.PositiveBigIntegerField(default=0, help_text="Documents ingested.")

    def __str__(self) -> str:
        return "ingest state"

    @classmethod
    def get(cls) -> "IngestState":
        return cls.objects.get_or_create(pk=1)[0]


class BoxQuerySet(models.QuerySet["Box"]):
    def enrolled(self) -> "BoxQuerySet":
        return self.filter(enrolment=Box.Enrolment.ENROLLED)


class Box(models.Model):
    """One box that wrote to the ledger, its enrolment, fleet state and ingest cursor."""

    class Enrolment(models.TextChoices):
        PENDING = "pending", "Pending approval"
        ENROLLED = "enrolled", "Enrolled"
        REVOKED = "revoked", "Revoked"

    class State(models.TextChoices):
        RECORDING = "recording", "Recording"
        DEGRADED = "degraded", "Degraded"
        DARK = "dark", "Dark"
        NEVER_SEEN = "never_seen", "Never seen"

    box_id = models.CharField(max_length=100, unique=True, help_text="CRIMEBOX_BOX_ID.")
    enrolment = models.CharField(max_length=8, choices=Enrolment.choices, default=Enrolment.PENDING)
    fingerprint = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the enrolled Ed25519 public key."
    )
    public_key_pem = models.TextField(blank=True, help_text="The enrolled key.")
    enrolled_at = models.DateTimeField(null=True, blank=True)
    enrolled_by = models.CharField(max_length=150, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEVER_SEEN)
    state_reason = models.CharField(max_length=300, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now, help_text="Console's clock.")
    last_contact_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the ingest saw its last heartbeat (console's clock).",
    )
    last_heartbeat_time = models.DateTimeField(
        null=True, blank=True, help_text="The latest heartbeat's own time (the box's clock)."
    )
    software = models.CharField(max_length=100, blank=True)
    zerotier_address = models.CharField(max_length=100, blank=True)
    health = models.JSONField(
        default=dict, blank=True, help_text="The latest heartbeat, summed up."
    )
    # The ingest cursor: `last_n` is the highest document number ingested (the numbers below it
    # that never came are MissingRange rows); `cursors` holds the highest `n` read from each
    # collection. Both advance in the transaction that writes the rows.
    last_n = models.PositiveBigIntegerField(default=0)
    cursors = models.JSONField(default=dict, blank=True)
    documents = models.PositiveBigIntegerField(default=0)
    untrusted = models.PositiveBigIntegerField(
        default=0, help_text="Documents held back: signed by a key that is not enrolled."
    )
    integrity_ok = models.BooleanField(default=True)
    last_error = models.TextField(blank=True)

    objects = BoxQuerySet.as_manager()

    class Meta:
        ordering = ["box_id"]
        verbose_name_plural = "boxes"
        indexes = [
            # The fleet list sorted by state and by last contact.
            models.Index(fields=["state", "box_id"], name="rtcc_box_state"),
            models.Index(fields=["last_contact_at"], name="rtcc_box_contact"),
        ]

    def __str__(self) -> str:
        return self.box_id


class BoxKey(models.Model):
    """A signing key a box presented (its `boxes` document). One is enrolled at a time."""

    box = models.ForeignKey(Box, on_delete=models.CASCADE, related_name="keys")
    fingerprint = models.CharField(max_length=64)
    public_key_pem = models.TextField()
    doc_id = models.CharField(max_length=300, help_text="The `boxes` document.")
    n = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="The `boxes` document's number, until it is counted (when this key is "
        "enrolled): the box's numbering trusts only its enrolled key.",
    )
    state = models.CharField(
        max_length=8, choices=Box.Enrolment.choices, default=Box.Enrolment.PENDING
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["box", "first_seen_at"]
        constraints = [
            models.UniqueConstraint(fields=["box", "fingerprint"], name="rtcc_boxkey_unique")
        ]

    def __str__(self) -> str:
        return f"{self.box_id} {self.fingerprint[:16]}"


class HeldDocument(models.Model):
    """A document signed by a key that is not (yet) enrolled: kept, untrusted, never shown.

    Only the reference is kept; when its key is enrolled the ingest reads it again by _id and
    verifies it like any other.
    """

    box = models.ForeignKey(Box, on_delete=models.CASCADE, related_name="held")
    n = models.PositiveBigIntegerField()
    collection = models.CharField(max_length=30)
    doc_id = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64, blank=True)
    held_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["box", "n"]
        constraints = [models.UniqueConstraint(fields=["box", "n"], name="rtcc_held_unique")]
        # Re-reading the held documents of one key when it is enrolled.
        indexes = [models.Index(fields=["box", "fingerprint", "n"], name="rtcc_held_key")]

    def __str__(self) -> str:
        return self.doc_id


class MissingRange(models.Model):
    """Numbers of a box's documents that have not arrived while later ones did.

    Re-checked each pass; past RTCC_HOLE_GRACE_MINUTES an integrity alert. A range the box
    itself declared dropped (its `dropped` document: undelivered heartbeats pruned) is closed
    as `declared`.
    """

    class State(models.TextChoices):
        OPEN = "open", "Not arrived"
        ARRIVED = "arrived", "Arrived late"
        DECLARED = "declared", "Declared dropped by the box"

    box = models.ForeignKey(Box, on_delete=models.CASCADE, related_name="missing")
    first = models.PositiveBigIntegerField()
    last = models.PositiveBigIntegerField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    noticed_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True, help_text="Integrity alert raised.")

    class Meta:
        ordering = ["box", "first"]
        # The pass re-checks the open ranges of each box.
        indexes = [models.Index(fields=["state", "box", "first"], name="rtcc_missing_open")]

    def __str__(self) -> str:
        return f"{self.box_id} n {self.first}..{self.last} {self.state}"


class Camera(models.Model):
    """A box's camera, from its `cameras` documents (latest revision) and heartbeats."""

    class State(models.TextChoices):
        RECORDING = "recording", "Recording"
        NOT_RECORDING = "not_recording", "Not recording"
        DISABLED = "disabled", "Disabled"
        DARK = "dark", "Box dark"
        NEVER_SEEN = "never_seen", "Never seen"

    box = models.ForeignKey(Box, on_delete=models.CASCADE, related_name="cameras")
    camera_id = models.PositiveBigIntegerField(help_text="The camera's id on its box.")
    name = models.CharField(max_length=100)
    location = models.CharField(max_length=200, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    facing_degrees = models.PositiveSmallIntegerField(null=True, blank=True)
    manufacturer = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    serial_number = models.CharField(max_length=100, blank=True)
    firmware_version = models.CharField(max_length=100, blank=True)
    is_enabled = models.BooleanField(default=True)
    revision = models.CharField(max_length=16, blank=True, help_text="Latest `cameras` document.")
    state = models.CharField(max_length=13, choices=State.choices, default=State.NEVER_SEEN)
    box_status = models.CharField(max_length=30, blank=True, help_text="As the box reported.")
    last_error = models.TextField(blank=True)
    last_segment_end = models.DateTimeField(null=True, blank=True)
    # The chain as verified at the datacenter: the last link checked in sequence order.
    chain_sequence = models.PositiveBigIntegerField(null=True, blank=True)
    chain_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["box", "name"]
        constraints = [
            models.UniqueConstraint(fields=["box", "camera_id"], name="rtcc_camera_unique")
        ]
        # The map and the fleet list by state.
        indexes = [models.Index(fields=["state"], name="rtcc_camera_state")]

    def __str__(self) -> str:
        return f"{self.box_id}/{self.name}"


class Verification(models.TextChoices):
    """How far the datacenter could check a segment."""

    VERIFIED = "verified", "Verified (signature and chain)"
    UNLINKED = "unlinked", "Signature verified; previous link not seen yet"
    ORPHAN = "orphan", "Previous sequence never arrived"
    BROKEN = "broken", "Chain broken"


class SegmentRecord(models.Model):
    """One recorded file as its box replicated it (a `segments` document that verified)."""

    box = models.ForeignKey(Box, on_delete=models.CASCADE, related_name="segments")
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="segments")
    sequence = models.PositiveBigIntegerField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    prev_chain_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=20, blank=True)
    on_hold = models.BooleanField(default=False)
    deleted_on_box = models.BooleanField(default=False, help_text="A `deleted` event arrived.")
    verification = models.CharField(
        max_length=8, choices=Verification.choices, default=Verification.UNLINKED
    )
    doc_id = models.CharField(max_length=300, unique=True)
    n = models.PositiveBigIntegerField()
    ingested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["camera", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["camera", "sequence"], name="rtcc_segment_seq")
        ]
        indexes = [
            # A camera's timeline (coverage bar): its segments overlapping a window.
            models.Index(fields=["camera", "start"], name="rtcc_segment_camera_start"),
            # Where and when over all boxes: segments overlapping a window. Camera and box make
            # it covering: the page's list of cameras (DISTINCT camera over the window) reads
            # only the index, not ~10,000 scattered rows of a 5.8 M-row table (500 boxes x 30
            # days: that query ~40 -> ~10 ms, the page 77 -> 44 ms; bench/rtcc_pages.py).
            models.Index(fields=["start", "end", "camera", "box"], name="rtcc_segment_window"),
            # "Which box recorded the file with SHA-256 X".
            models.Index(fields=["sha256"], name="rtcc_segment_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.camera} #{self.sequence}"


class GapRecord(models.Model):
    """A stretch a camera did not record, with its cause (`gaps` documents; open until closed)."""

    box = models.ForeignKey(Box, on_delete=models.CASCADE, related_name="gaps")
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="gaps")
    gap = models.PositiveBigIntegerField(help_text="The gap's id on its box.")
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    cause = models.CharField(max_length=30, blank=True)
    cause_text = models.CharField(max_length=200, blank=True)
    detail = models.TextField(blank=True)
    doc_id = models.CharField(max_length=300, help_text="The latest document about this gap.")

    class Meta:
        ordering = ["camera", "start"]
        constraints = [models.UniqueConstraint(fields=["box", "gap"], name="rtcc_gap_unique")]
        indexes = [
            # A camera's timeline, and where and when over all boxes.
            models.Index(fields=["camera", "start"], name="rtcc_gap_camera_start"),
            models.Index(fields=["start"], name="rtcc_gap_start"),
        ]

    def __str__(self) -> str:
        return f"{self.camera} gap {self.start:%Y-%m-%d %H:%M:%S}"


class HeartbeatSample(models.Model):
    """One heartbeat's numbers, for the box page's charts."""

    box = models.ForeignKey(Box, on_delete=models.CASCADE, related_name="heartbeats")
    received_at = models.DateTimeField(help_text="Console's clock.")
    time = models.DateTimeField(help_text="The box's clock.")
    cpu_temp_millic = models.IntegerField(null=True, blank=True)
    throttled = models.BooleanField(null=True)
    under_voltage = models.BooleanField(null=True)
    disk_free = models.PositiveBigIntegerField(null=True, blank=True)
    disk_total = models.PositiveBigIntegerField(null=True, blank=True)
    load_centi = models.PositiveIntegerField(null=True, blank=True, help_text="1-minute load.")
    backlog = models.PositiveIntegerField(null=True, blank=True, help_text="Outbox pending.")
    backlog_age_s = models.PositiveIntegerField(null=True, blank=True)
    clock_synced = models.BooleanField(null=True)
    n = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["box", "time"]
        # The charts: one box's samples over a window.
        indexes = [models.Index(fields=["box", "received_at"], name="rtcc_beat_box_received")]

    def __str__(self) -> str:
        return f"{self.box_id} {self.time:%Y-%m-%d %H:%M:%S}"


class AlertQuerySet(models.QuerySet["Alert"]):
    def active(self) -> "AlertQuerySet":
        return self.filter(resolved_at=None)


class Alert(models.Model):
    """A condition the ingest raised on a state change and resolves when it ends."""

    class Kind(models.TextChoices):
        SILENT = "silent", "Box silent"
        NOT_RECORDING = "not_recording", "Camera not recording"
        DISK = "disk", "Disk below its floor"
        POWER = "power", "Under-voltage or throttling"
        CLOCK = "clock", "Clock not synchronised"
        BACKLOG = "backlog", "Outbox backlog older than an hour"
        INTEGRITY = "integrity", "Integrity"
        UNENROLLED = "unenrolled", "Unenrolled key"
        SECOND_KEY = "second_key", "Second key"

    kind = models.CharField(max_length=13, choices=Kind.choices)
    box = models.ForeignKey(Box, on_delete=models.CASCADE, related_name="alerts")
    camera = models.ForeignKey(
        Camera, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    # What the alert is about within its kind (e.g. a document _id).
    subject = models.CharField(max_length=300, blank=True)
    # kind:box:camera:subject: one active alert per key (NULLs are distinct in a unique index).
    key = models.CharField(max_length=500)
    message = models.TextField()
    raised_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Notification (e-mail, webhook): retried on later passes, never by sleeping in one.
    notified_at = models.DateTimeField(null=True, blank=True, help_text="Raise sent.")
    resolve_notified_at = models.DateTimeField(null=True, blank=True)
    notify_attempts = models.PositiveSmallIntegerField(default=0)
    notify_sent = models.CharField(
        max_length=40,
        blank=True,
        help_text="Channels the pending notification already went out on (a retry skips them).",
    )
    next_notify_at = models.DateTimeField(null=True, blank=True)
    notify_error = models.TextField(blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(resolved_at=None), name="rtcc_alert_one_active"
            )
        ]
        indexes = [
            # The alerts page: active first, newest first.
            models.Index(fields=["resolved_at", "raised_at"], name="rtcc_alert_list"),
            models.Index(fields=["box", "raised_at"], name="rtcc_alert_box"),
            # The pass's notification step: alerts with something not sent yet.
            models.Index(fields=["next_notify_at"], name="rtcc_alert_notify"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.box_id} {self.subject}"


class IntegrityProblem(models.Model):
    """One fact the datacenter could not verify: bad signature, broken link, missing sequence,
    malformed document. Names the box, camera, sequence and document _id."""

    class Kind(models.TextChoices):
        BAD_SIGNATURE = "bad_signature", "Bad signature"
        BROKEN_LINK = "broken_link", "Chain link broken"
        BAD_HASH = "bad_hash", "Chain hash does not match its fields"
        MISSING_SEQUENCE = "missing_sequence", "Segment sequence missing"
        MISSING_NUMBER = "missing_number", "Document number missing"
        MALFORMED = "malformed", "Malformed document"
        FORGED_BOX = "forged_box", "Document claims another box"
        CONFLICT = "conflict", "Contradicts an earlier document"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    box = models.ForeignKey(Box, on_delete=models.CASCADE, related_name="problems")
    camera = models.ForeignKey(
        Camera, null=True, blank=True, on_delete=models.SET_NULL, related_name="problems"
    )
    sequence = models.PositiveBigIntegerField(null=True, blank=True)
    doc_id = models.CharField(max_length=300, blank=True)
    n = models.PositiveBigIntegerField(null=True, blank=True)
    detail = models.TextField()
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-found_at"]
        indexes = [models.Index(fields=["box", "found_at"], name="rtcc_problem_box")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.doc_id or self.box_id}"


class ClipJobQuerySet(models.QuerySet["ClipJob"]):
    def open(self) -> "ClipJobQuerySet":
        """Jobs the retrieval tick still follows (rtcc/retrieval.py)."""
        return self.filter(state__in=ClipJob.OPEN)


class ClipJob(models.Model):
    """A clip an RTCC user asked a box for (docs/retrieval.md).

    The console signs the request and inserts it into the ledger's `requests`; the box answers
    in `retrievals` and uploads the package in `chunks`. The console offers the package only
    once it has verified it against the box's own documents replicated before; anything else
    is an integrity alert and the package is kept aside, never offered.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued (the box has not answered yet)"
        BUILDING = "building", "Building on the box"
        UPLOADING = "uploading", "Uploading"
        VERIFYING = "verifying", "Verifying"
        READY = "ready", "Ready"
        REFUSED = "refused", "Refused by the box"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        ALERT = "alert", "Integrity alert (kept, not offered)"

    OPEN = [State.QUEUED, State.BUILDING, State.UPLOADING, State.VERIFYING]

    request = models.CharField(max_length=64, unique=True, help_text="The request id.")
    box_id = models.CharField(max_length=100)
    camera = models.CharField(max_length=100)
    start = models.DateTimeField()
    end = models.DateTimeField()
    case_number = models.CharField(max_length=100)
    reason = models.TextField()
    user = models.CharField(max_length=150, help_text="The console user who asked.")
    priority = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=9, choices=State.choices, default=State.QUEUED)
    box_reason = models.TextField(blank=True, help_text="The box's answer when it refused.")
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_received = models.PositiveIntegerField(default=0)
    bytes_received = models.PositiveBigIntegerField(default=0)
    package_size = models.PositiveBigIntegerField(null=True, blank=True)
    first_chunk_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    package_sha256 = models.CharField(max_length=64, blank=True)
    path = models.CharField(max_length=500, blank=True, help_text="In the evidence store.")
    report = models.JSONField(default=dict, blank=True, help_text="The verification report.")
    problem = models.TextField(blank=True, help_text="Why it is not offered.")
    cancelled_by = models.CharField(max_length=150, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ClipJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The retrieval tick's open jobs and the jobs list filtered by state.
            models.Index(fields=["state", "created_at"], name="rtcc_clipjob_state"),
        ]

    def __str__(self) -> str:
        return f"clip {self.request} ({self.box_id} {self.camera})"

    def get_absolute_url(self) -> str:
        return reverse("rtcc:clip", args=[self.request])

    @property
    def percent(self) -> int:
        if self.state == self.State.READY:
            return 100
        return int(100 * self.chunks_received / self.chunks_total) if self.chunks_total else 0

    def rate(self) -> float | None:
        """Bytes per second received so far (None before two chunks)."""
        if not self.first_chunk_at or not self.progress_at or not self.bytes_received:
            return None
        seconds = (self.progress_at - self.first_chunk_at).total_seconds()
        return self.bytes_received / seconds if seconds > 0 else None

    def eta_seconds(self) -> int | None:
        rate = self.rate()
        if rate is None or not self.package_size:
            return None
        return int(max(self.package_size - self.bytes_received, 0) / rate)
