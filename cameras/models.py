from datetime import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from audit.models import AuditEvent
from crimebox.ffprobe import StreamURLError
from crimebox.redaction import redact, with_credentials

from . import trust


def stream_label(
    codec: str | None,
    width: int | None,
    height: int | None,
    fps: float | None,
    unknown_size: str = "",
) -> str:
    """A stream's format as people read it: "H264 1920x1080 @ 25 fps"."""
    size = f"{width}x{height}" if width else unknown_size
    rate = f"@ {fps:g} fps" if fps else ""
    return " ".join(part for part in (codec or "?", size, rate) if part)


class CameraQuerySet(models.QuerySet["Camera"]):
    def enabled(self) -> "CameraQuerySet":
        return self.filter(is_enabled=True)


def slug_of(camera_id: int) -> str:
    """A camera's short name in paths and packages (cam0007): its folder under the recordings
    directory, its originals in an evidence package."""
    return f"cam{camera_id:04d}"


class Camera(models.Model):
    class Source(models.TextChoices):
        ONVIF = "onvif", "ONVIF (probed)"
        RTSP = "rtsp", "Plain RTSP URL"
        TEST_PATTERN = "test", "Built-in test pattern"

    class Status(models.TextChoices):
        IDLE = "idle", "Not started"
        RECORDING = "recording", "Recording"
        RECONNECTING = "reconnecting", "Reconnecting"
        OFFLINE = "offline", "Offline"
        DISABLED = "disabled", "Disabled"

    name = models.CharField(max_length=100, unique=True)
    location = models.CharField(max_length=200, blank=True, help_text="Where it is, in words.")
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    facing_degrees = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(359)],
        help_text="Compass direction the camera looks, 0 = north, 90 = east.",
    )

    source = models.CharField(max_length=8, choices=Source.choices, default=Source.ONVIF)
    host = models.CharField(max_length=255, blank=True, help_text="IP address or host name.")
    onvif_port = models.PositiveIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    username = models.CharField(max_length=100, blank=True)
    # Kept apart from every URL so no stored URL carries a secret; never shown back.
    password = models.CharField(max_length=200, blank=True)

    manufacturer = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    serial_number = models.CharField(max_length=100, blank=True)
    firmware_version = models.CharField(max_length=100, blank=True)
    hardware_id = models.CharField(max_length=100, blank=True)
    # Every media profile the last probe found, as
    # [{"token", "name", "encoding", "width", "height", "fps", "stream_uri", "snapshot_uri"}].
    profiles = models.JSONField(default=list, blank=True)

    main_profile_token = models.CharField(max_length=100, blank=True)
    main_stream_uri = models.CharField(
        max_length=500, blank=True, help_text="Recorded stream, without credentials."
    )
    main_codec = models.CharField(max_length=20, blank=True)
    main_width = models.PositiveIntegerField(null=True, blank=True)
    main_height = models.PositiveIntegerField(null=True, blank=True)
    main_fps = models.FloatField(null=True, blank=True)
    sub_profile_token = models.CharField(max_length=100, blank=True)
    sub_stream_uri = models.CharField(
        max_length=500, blank=True, help_text="Low-bandwidth stream for live view."
    )
    sub_codec = models.CharField(max_length=20, blank=True)
    sub_width = models.PositiveIntegerField(null=True, blank=True)
    sub_height = models.PositiveIntegerField(null=True, blank=True)
    sub_fps = models.FloatField(null=True, blank=True)
    snapshot_uri = models.CharField(max_length=500, blank=True)

    is_enabled = models.BooleanField("enabled", default=True)
    record_audio = models.BooleanField(
        default=False, help_text="Record the camera's audio track, if it sends one."
    )
    sync_clock = models.BooleanField(
        "keep the camera's clock in sync",
        default=False,
        help_text="Set the camera's clock (ONVIF SetSystemDateAndTime) to the box's when it is "
        "off by more than CRIMEBOX_CAMERA_CLOCK_WARN_SECONDS; every change is audited.",
    )

    # Who steers the camera (PTZ, one at a time), until when, and where it was last sent.
    ptz_holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ptz_held_until = models.DateTimeField(null=True, blank=True)
    ptz_last_command_at = models.DateTimeField(null=True, blank=True)
    ptz_move_until = models.DateTimeField(
        null=True, blank=True, help_text="A move with no keep-alive by then is stopped."
    )
    ptz_position = models.CharField(max_length=200, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IDLE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_segment_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last segment closed."
    )
    probed_at = models.DateTimeField(null=True, blank=True)
    # What the camera last answered that the box refused (a stream or snapshot on another
    # host, or on a port nobody confirmed with the password; cameras/trust.py): a camera
    # problem until a probe is accepted again. Kept apart from last_error, which the recorder
    # rewrites whenever the stream's state changes.
    refusal = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CameraQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [("control_ptz", "Can steer cameras (pan, tilt, zoom, presets)")]
        constraints = [
            models.UniqueConstraint(
                fields=["host", "onvif_port"],
                condition=models.Q(source="onvif"),
                name="camera_unique_onvif_endpoint",
                violation_error_message="A camera with this ONVIF host and port already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def slug(self) -> str:
        """Folder name under the recordings directory: stable for the life of the row."""
        return slug_of(self.pk)

    def recording_url(self) -> str:
        """The main stream URL with credentials, for FFmpeg's argv only."""
        return self.with_credentials(self.main_stream_uri)

    def live_url(self) -> str:
        return self.with_credentials(self.sub_stream_uri or self.main_stream_uri)

    def with_credentials(self, url: str) -> str:
        """`url` with the camera's credentials; StreamURLError when an ONVIF camera's URL is
        not on its own host (a row stored before the probe refused such answers)."""
        if self.source == self.Source.ONVIF and url and not trust.on_host(url, self.host):
            raise StreamURLError(
                f"the stored stream {trust.shown(url)} is not on the camera's host "
                f"{self.host}: its credentials are not sent there (re-probe the camera)"
            )
        return with_credentials(url, self.username, self.password)

    def redact(self, text: str) -> str:
        """Text (an FFmpeg error line, an exception) with this camera's secrets removed."""
        return redact(text, self.password)

    def stored_uris(self) -> list[str]:
        """Every stream and snapshot URI stored for this camera (none with credentials)."""
        uris = [self.main_stream_uri, self.sub_stream_uri, self.snapshot_uri]
        for p in self.profiles or []:
            uris += [p.get("stream_uri") or "", p.get("snapshot_uri") or ""]
        return [u for u in uris if u]

    def note_refusal(self, text: str) -> bool:
        """Record a refused answer on the row; True when it is news (not already recorded)."""
        text = self.redact(text)[:2000]
        changed = Camera.objects.filter(pk=self.pk).exclude(refusal=text).update(refusal=text)
        self.refusal = text
        return changed > 0

    def has_history(self) -> bool:
        """Footage, gaps, holds, exports, or an audit entry other than its own configuration
        changes (someone watched or viewed it): such a camera is retired, never deleted."""
        used = AuditEvent.objects.filter(camera_id=self.pk).exclude(
            action=AuditEvent.Action.CAMERA_CHANGE
        )
        return any(qs.exists() for qs in (self.segments, self.gaps, self.holds, self.exports, used))

    def can_steer(self) -> bool:
        """An ONVIF camera whose recorded profile has a PTZ configuration."""
        return self.source == self.Source.ONVIF and any(
            p.get("ptz") and p.get("token") == self.main_profile_token for p in self.profiles
        )

    def set_status(
        self, status: str, error: str | None = None, now: datetime | None = None
    ) -> None:
        """Record a state change on the row (only the status fields are written)."""
        now = now or timezone.now()
        fields = {"status": status, "status_changed_at": now}
        if error is not None:
            fields["last_error"] = self.redact(error)[:2000]
        if status == self.Status.RECORDING:
            fields["last_seen_at"] = now
        Camera.objects.filter(pk=self.pk).update(**fields)
        for k, v in fields.items():
            setattr(self, k, v)


class ClockReadingQuerySet(models.QuerySet["ClockReading"]):
    def latest_for(self, camera_id: int) -> "ClockReading | None":
        return self.filter(camera_id=camera_id).order_by("-measured_at").first()


class ClockReading(models.Model):
    """One measurement of a camera's clock against the box's (ONVIF GetSystemDateAndTime)."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="clock_readings")
    measured_at = models.DateTimeField(help_text="The box's clock (UTC) mid-request.")
    camera_time = models.DateTimeField(help_text="What the camera's clock said (UTC).")
    offset_seconds = models.FloatField(help_text="Camera minus box; negative: camera slow.")
    uncertainty_seconds = models.FloatField(help_text="Plus or minus: half the round trip + 0.5.")
    round_trip_seconds = models.FloatField()

    objects = ClockReadingQuerySet.as_manager()

    class Meta:
        ordering = ["-measured_at"]
        indexes = [
            # The latest reading of a camera, and its readings before/after an export window.
            models.Index(fields=["camera", "measured_at"], name="clockreading_camera_time"),
        ]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.measured_at:%Y-%m-%d %H:%M:%S} {describe_offset(self)}"


def describe_offset(reading: "ClockReading | None", camera: Camera | None = None) -> str:
    """The offset as people read it: "37.0 s slow (± 0.5 s)", or why there is none."""
    if camera is not None and camera.source != Camera.Source.ONVIF:
        return "clock not measurable (not an ONVIF camera)"
    if reading is None:
        return "not measured yet"
    off = reading.offset_seconds
    way = "slow" if off < 0 else "fast"
    return f"{abs(off):.1f} s {way} (± {reading.uncertainty_seconds:.1f} s)"
