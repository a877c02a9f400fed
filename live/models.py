from django.conf import settings
from django.db import models
from django.utils import timezone


class LiveSessionQuerySet(models.QuerySet["LiveSession"]):
    def open(self) -> "LiveSessionQuerySet":
        return self.filter(ended_at=None)


class LiveSession(models.Model):
    """One person watching one camera live, from the first playlist request to the last.

    Written by the web (opened, `last_seen_at` every few seconds) and closed by the live
    supervisor once the playlist requests stop, which also writes the audit entry.
    """

    class Stream(models.TextChoices):
        SUB = "sub", "Substream"
        MAIN = "main", "Main stream (no substream)"

    camera = models.ForeignKey(
        "cameras.Camera", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    camera_name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # SHA-256 of the Django session key: tells two browser sessions apart without storing a
    # credential.
    session_hash = models.CharField(max_length=64)
    stream = models.CharField(max_length=4, choices=Stream.choices, default=Stream.SUB)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = LiveSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        permissions = [("view_live", "Can watch cameras live")]
        indexes = [
            # Every playlist request looks up the viewer's open session.
            models.Index(fields=["session_hash", "camera", "ended_at"], name="live_session_open"),
            # The supervisor closes open sessions that stopped requesting.
            models.Index(fields=["ended_at", "last_seen_at"], name="live_session_stale"),
        ]

    def __str__(self) -> str:
        return f"{self.username} watching {self.camera_name} from {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float:
        end = self.ended_at or self.last_seen_at
        return max(0.0, (end - self.started_at).total_seconds())
