from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from cameras.models import Camera
from crimebox.hashing import GENESIS
from crimebox.querysets import RangeDatetimesQuerySet

from .validators import check_export_window, check_hold_window, clean_case_number, clean_reason


class SegmentQuerySet(RangeDatetimesQuerySet["Segment"]):
    def overlapping(self, start: datetime, end: datetime) -> "SegmentQuerySet":
        """Segments with any media inside [start, end)."""
        return self.filter(start__lt=end, end__gt=start)

    def on_disk(self) -> "SegmentQuerySet":
        return self.filter(status__in=Segment.ON_DISK)

    def chained(self) -> "SegmentQuerySet":
        """Closed segments, the ones in the hash chain (not the file being written, nor a
        file lost before it was ever hashed)."""
        return self.exclude(status__in=Segment.UNCHAINED)

    def media_warnings(self) -> "SegmentQuerySet":
        """Segments whose duration, frame count and wall time disagree."""
        return self.exclude(media_warning="")

    def recording(self) -> "SegmentQuerySet":
        """Rows of the files FFmpeg is writing now."""
        return self.filter(status=Segment.Status.RECORDING)

    def playable(self) -> "SegmentQuerySet":
        """On disk or being written: what the player and the front page can show."""
        return self.filter(status__in=Segment.PLAYABLE)

    def last_chained(self) -> "Segment | None":
        """The newest link of the chain (filter by camera first), or None."""
        return self.chained().order_by("-sequence").first()

    def deletable(self) -> "SegmentQuerySet":
        """Oldest-first candidates for retention: on disk, closed, not on hold."""
        return self.on_disk().filter(on_hold=False).order_by("start")


class Segment(models.Model):
    """One media file written by FFmpeg for one camera, hashed once, never rewritten."""

    class Status(models.TextChoices):
        RECORDING = "recording", "Recording"
        COMPLETE = "complete", "Complete"
        PARTIAL = "partial", "Partial (recovered after a crash)"
        MISSING = "missing", "Missing (file gone)"
        CORRUPT = "corrupt", "Corrupt (hash mismatch)"
        DELETED = "deleted", "Deleted by retention"
        NO_MEDIA = "no_media", "No media (file holds only a header)"
        LOST = "lost", "Lost while recording (never hashed)"

    ON_DISK = (Status.COMPLETE, Status.PARTIAL, Status.CORRUPT)
    # Files with a stored hash that verification re-reads (footage or not).
    HASHED_FILES = (*ON_DISK, Status.NO_MEDIA)
    # Rows outside the hash chain: the file being written, and one deleted or lost under
    # FFmpeg before it closed (there never were bytes to hash).
    UNCHAINED = (Status.RECORDING, Status.LOST)
    # A segment being written has a row (so it shows, plays and is held) but no hash and no
    # place in the chain yet: both are given when FFmpeg closes it.
    PLAYABLE = (*ON_DISK, Status.RECORDING)

    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="segments")
    # Position in the camera's hash chain, 1, 2, 3, ... with no holes; none while recording.
    sequence = models.PositiveBigIntegerField(null=True, blank=True)
    start = models.DateTimeField(help_text="UTC time of the first frame.")
    end = models.DateTimeField(help_text="UTC time just after the last frame.")
    duration = models.FloatField(help_text="Seconds of media.")
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    codec = models.CharField(max_length=20, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    has_audio = models.BooleanField(default=False)
    # Relative to settings.RECORDINGS_DIR, e.g. "cam0001/2026-11-24/20261124T141500Z.mp4".
    path = models.CharField(max_length=300, unique=True)
    sha256 = models.CharField(max_length=64, blank=True)
    chain_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPLETE)
    on_hold = models.BooleanField(default=False)
    hashed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the SHA-256 was stored."
    )
    clock_synced = models.BooleanField(
        null=True,
        blank=True,
        help_text="Whether the box's clock was NTP-synchronised when the segment closed "
        "(empty: unknown). Its times are only as right as that clock.",
    )
    frames = models.PositiveIntegerField(
        null=True, blank=True, help_text="Video packets in the file (ffprobe)."
    )
    media_warning = models.TextField(
        blank=True,
        help_text="Where the media's duration, frame count and the wall clock disagree: "
        "the times of this segment are not to be trusted without a look.",
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, help_text="Why it is partial, missing, corrupt, deleted.")

    objects = SegmentQuerySet.as_manager()

    class Meta:
        ordering = ["camera", "sequence"]
        # Footage permissions, granted through the role groups (see audit/roles.py).
        permissions = [
            ("view_footage", "Can browse, play and download footage"),
            ("export_footage", "Can export evidence packages"),
            ("hold_footage", "Can place and release legal holds"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["camera", "sequence"], name="segment_unique_camera_sequence"
            ),
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="segment_end_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["recording", "lost"])
                | models.Q(
                    sequence__isnull=False, chain_hash__isnull=False, hashed_at__isnull=False
                ),
                name="segment_chained_unless_recording",
            ),
        ]
        indexes = [
            # Timeline, export and the admin's camera + date filters: camera, time range.
            models.Index(fields=["camera", "start"], name="segment_camera_start"),
            # Retention: oldest deletable first across cameras.
            models.Index(fields=["status", "on_hold", "start"], name="segment_retention"),
            # Admin status filter, newest first.
            models.Index(fields=["status", "start"], name="segment_status_start"),
            # Admin date_hierarchy and day filter without a camera.
            models.Index(fields=["start"], name="segment_start"),
        ]

    def __str__(self) -> str:
        return f"{self.camera} {self.start:%Y-%m-%d %H:%M:%S}Z"

    @property
    def abs_path(self) -> Path:
        return Path(settings.RECORDINGS_DIR) / self.path

    @property
    def is_on_disk(self) -> bool:
        return self.status in self.ON_DISK

    @property
    def is_playable(self) -> bool:
        return self.status in self.PLAYABLE

    @property
    def is_recording(self) -> bool:
        return self.status == self.Status.RECORDING

    @property
    def has_hashed_file(self) -> bool:
        return self.status in self.HASHED_FILES

    def prev_chain_hash(self) -> str | None:
        """The chain hash this segment's links to (GENESIS for the first), as the evidence
        manifest and the replicated document state it; None for a segment not chained yet."""
        if self.sequence is None:
            return None
        previous = Segment.objects.filter(camera_id=self.camera_id, sequence=self.sequence - 1)
        return previous.values_list("chain_hash", flat=True).first() or GENESIS


class GapQuerySet(RangeDatetimesQuerySet["Gap"]):
    def overlapping(self, start: datetime, end: datetime) -> "GapQuerySet":
        return self.filter(start__lt=end).filter(models.Q(end__gt=start) | models.Q(end=None))

    def open(self) -> "GapQuerySet":
        return self.filter(end=None)


class Gap(models.Model):
    """An interval in which a camera has no recording, and why."""

    class Cause(models.TextChoices):
        CAMERA_UNREACHABLE = "unreachable", "Camera unreachable"
        FFMPEG_EXITED = "ffmpeg_exited", "FFmpeg exited"
        STALLED = "stalled", "Stream stalled"
        RECORDER_DOWN = "recorder_down", "Recorder down / box rebooted"
        DISK_FULL = "disk_full", "Disk full"
        DISABLED = "disabled", "Camera disabled"
        FILE_LOST = "file_lost", "Segment file lost while recording"
        # Not a hole: the box's clock stepped, so the times in this interval were written
        # twice (stepped back) or skipped (stepped forward). See the detail.
        CLOCK_STEP = "clock_step", "Clock stepped"
        UNKNOWN = "unknown", "Unknown"

    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="gaps")
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True, help_text="Empty while the gap lasts.")
    cause = models.CharField(max_length=16, choices=Cause.choices)
    detail = models.TextField(blank=True, help_text="Last error line, credentials redacted.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = GapQuerySet.as_manager()

    class Meta:
        ordering = ["camera", "start"]
        indexes = [
            # Timeline and export: gaps of a camera inside a window.
            models.Index(fields=["camera", "start"], name="gap_camera_start"),
        ]

    def __str__(self) -> str:
        return f"{self.camera} gap {self.start:%Y-%m-%d %H:%M:%S}Z ({self.get_cause_display()})"

    @property
    def duration(self) -> float | None:
        if self.end is None:
            return None
        return (self.end - self.start).total_seconds()


class LegalHoldQuerySet(models.QuerySet["LegalHold"]):
    def active(self) -> "LegalHoldQuerySet":
        return self.filter(released_at=None)

    def overlapping(self, start: datetime, end: datetime) -> "LegalHoldQuerySet":
        """Holds with any time inside [start, end)."""
        return self.filter(start__lt=end, end__gt=start)

    def covering(self, moment: datetime) -> "LegalHoldQuerySet":
        """Holds whose [start, end) contains `moment`."""
        return self.filter(start__lte=moment, end__gt=moment)


class LegalHold(models.Model):
    """A time range of one camera that retention must never delete while active."""

    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="holds")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.TextField()
    case_number = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    release_reason = models.TextField(blank=True)

    objects = LegalHoldQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="hold_end_after_start"
            ),
        ]
        indexes = [models.Index(fields=["camera", "start"], name="hold_camera_start")]

    def __str__(self) -> str:
        return f"Hold {self.camera} {self.start:%Y-%m-%d %H:%M}–{self.end:%H:%M}Z"

    def clean(self) -> None:
        clean_typed_fields(self, case_number=False, window=check_hold_window)

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class IntegrityCheck(models.Model):
    """The result of one run of verify_segments (command or schedule)."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.SET_NULL)
    checked = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    # [{"segment": id, "camera": name, "path": ..., "problem": "modified|missing|chain|..."}]
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Integrity check {self.started_at:%Y-%m-%d %H:%M} {'OK' if self.ok else 'FAILED'}"


class Export(models.Model):
    """An evidence package requested from the admin or export_clip."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired (package removed)"

    cameras = models.ManyToManyField(Camera, related_name="exports")
    start = models.DateTimeField()
    end = models.DateTimeField()
    case_number = models.CharField(max_length=100)
    reason = models.TextField()
    include_originals = models.BooleanField(default=False)
    hold_sources = models.BooleanField(default=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    path = models.CharField(max_length=300, blank=True, help_text="Relative to EXPORTS_DIR.")
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the package zip.")
    size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # While RUNNING: the process building it (host:pid:start time) and its temporary folder,
    # so a row whose worker died is noticed and cleaned up (recordings/evidence/jobs.py).
    worker = models.CharField(max_length=100, blank=True)
    work_dir = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="export_end_after_start"
            ),
        ]
        indexes = [
            # Package expiry: finished packages, oldest first.
            models.Index(fields=["status", "finished_at"], name="export_status_finished"),
        ]

    def __str__(self) -> str:
        return f"Export {self.case_number} {self.start:%Y-%m-%d %H:%M}Z"

    def clean(self) -> None:
        clean_typed_fields(self, case_number=True, window=check_export_window)

    @property
    def abs_path(self) -> Path:
        return Path(settings.EXPORTS_DIR) / self.path


class PrefixCheck(models.Model):
    """A prefix of an open segment file that an export relied on (`recorded_prefix` in its
    manifest), owed a check against the closed file. Written in the transaction that marks
    the export done, so a recorder or worker killed before the segment closes still leaves
    it owed; settled (recordings/evidence/prefixes.py) once the segment is indexed."""

    class Result(models.TextChoices):
        OWED = "owed", "Owed (segment still open)"
        OK = "ok", "The closed file begins with these bytes"
        MISMATCH = "mismatch", "The closed file begins with other bytes"

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="prefix_checks")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="prefix_checks")
    path = models.CharField(max_length=300, help_text="Relative to RECORDINGS_DIR.")
    end_byte = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, help_text="Of bytes [0, end_byte), as exported.")
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.OWED)
    found_sha256 = models.CharField(
        max_length=64, blank=True, help_text="Of the closed file's bytes [0, end_byte)."
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            # Two exports of the same prefix owe one check (and replicate one fact).
            models.UniqueConstraint(
                fields=["segment", "end_byte", "sha256"], name="prefixcheck_unique_prefix"
            ),
        ]
        indexes = [
            # settle(): the owed checks (of one segment).
            models.Index(fields=["result", "segment"], name="prefixcheck_result_segment"),
        ]

    def __str__(self) -> str:
        return f"Prefix of {self.path} to byte {self.end_byte}: {self.result}"


def clean_typed_fields(
    row: "LegalHold | Export",
    *,
    case_number: bool,
    window: Callable[[datetime, datetime], object],
) -> None:
    """Case number, reason and window of a hold or export, through the shared rules, as field
    errors (a window error on "end" also keeps Django from showing the raw constraint name)."""
    errors: dict[str, ValidationError] = {}
    if row.start and row.end:
        try:
            window(row.start, row.end)
        except ValidationError as e:
            errors["end"] = e
    rules: dict[str, Callable[[object], str]] = {
        "case_number": lambda v: clean_case_number(v, required=case_number),
        "reason": clean_reason,
    }
    for name, rule in rules.items():
        try:
            setattr(row, name, rule(getattr(row, name)))
        except ValidationError as e:
            errors[name] = e
    if errors:
        raise ValidationError(errors)
