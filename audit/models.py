from django.conf import settings
from django.db import models
from django.utils import timezone

from crimebox.querysets import RangeDatetimesQuerySet


class AuditEventQuerySet(RangeDatetimesQuerySet["AuditEvent"]):
    """The audit list's date drill-down (RangeDatetimesQuerySet), typed for AuditEvent."""


class AuditEvent(models.Model):
    """One append-only, hash-chained entry of who did what to which footage or setting.

    Written only through `audit.log.record()`, which fills `sequence`, `prev_hash` and
    `hash` inside one IMMEDIATE transaction so the chain has no forks.
    """

    class Action(models.TextChoices):
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOGOUT = "logout", "Logged out"
        VIEW = "view", "Viewed footage list / timeline"
        PLAY = "play", "Played a segment"
        LIVE = "live", "Watched live"
        STILL = "still", "Viewed stills"
        DOWNLOAD = "download", "Downloaded"
        EXPORT = "export", "Exported evidence"
        HOLD = "hold", "Placed legal hold"
        RELEASE = "release", "Released legal hold"
        CAMERA_CHANGE = "camera_change", "Changed a camera"
        USER_CHANGE = "user_change", "Changed a user"
        ADMIN_CHANGE = "admin_change", "Changed something else in the admin"
        RETENTION_DELETE = "retention_delete", "Deleted by retention"
        SYSTEM = "system", "System event"
        PTZ = "ptz", "Steered a camera (PTZ)"

    sequence = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text too: the entry must still say who after the user row is gone.
    username = models.CharField(max_length=150, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    # The camera as it was when the entry was written. Its id is hashed, so nothing may ever
    # change it: no SET_NULL, no database constraint, the id stays when the camera row goes
    # (a camera with history is retired, not deleted: cameras/admin.py).
    camera = models.ForeignKey(
        "cameras.Camera",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    camera_name = models.CharField(max_length=100, blank=True)
    # What was acted on, e.g. "segment 123", "export 7", "user alice".
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-sequence"]
        indexes = [
            # Admin filters: by user, by camera, by time.
            models.Index(fields=["username", "at"], name="audit_user_at"),
            models.Index(fields=["camera", "at"], name="audit_camera_at"),
            models.Index(fields=["at"], name="audit_at"),
            models.Index(fields=["action", "at"], name="audit_action_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action}"


class AuditCheck(models.Model):
    """One full verification of the audit chain (verify_audit or the daily schedule).

    The audit list verifies only the entries after the newest passing check's last entry, so
    it stays fast on a trail of millions; the full walk runs daily.
    """

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    checked = models.PositiveBigIntegerField(default=0)
    ok = models.BooleanField(default=False)
    problems = models.JSONField(default=list, blank=True)
    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Audit check {self.started_at:%Y-%m-%d %H:%M} {'OK' if self.ok else 'FAILED'}"


class Viewing(models.Model):
    """One person's viewing of one segment while it goes on: the player page and the browser's
    partial requests for the file (often 4-9 of them), coalesced so the trail gets one entry
    per viewing, with the bytes it took (audit/viewings.py). Not part of the chain: the row
    becomes one AuditEvent, and is deleted, in one transaction."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=20, choices=AuditEvent.Action.choices)
    # As on AuditEvent: the id the entry will carry, whatever happens to the camera row.
    camera = models.ForeignKey(
        "cameras.Camera",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    target = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    last_at = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    bytes_sent = models.PositiveBigIntegerField(default=0)
    file_bytes = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["username", "action", "target"], name="audit_viewing_one_at_a_time"
            )
        ]
        indexes = [
            # close_idle: the viewings nothing happened to for a while.
            models.Index(fields=["last_at"], name="audit_viewing_last_at"),
        ]

    def __str__(self) -> str:
        return f"{self.username or '-'} {self.action} {self.target} since {self.started_at}"
