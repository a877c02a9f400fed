"""Camera clocks: the time burned into a camera's picture is the camera's, the segment times
are the box's. Each ONVIF camera's clock is measured against the box's (when added, at every
re-probe, hourly), kept as history (ClockReading), shown on its page and in health, replicated,
and stated in every evidence package. Optionally the box sets a drifted camera's clock.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from crimebox import outbox
from crimebox.clock import clock_synchronized

from .audit import camera_changed
from .models import Camera, ClockReading, describe_offset
from .onvif import ClockSample, ONVIFError, read_clock, set_clock

logger = logging.getLogger(__name__)

NOT_MEASURABLE = "clock not measurable (not an ONVIF camera)"


def measure(camera: Camera) -> ClockReading:
    """Read the camera's clock once and store the reading (ONVIFError when it cannot be read)."""
    if camera.source != Camera.Source.ONVIF:
        raise ONVIFError(f"{camera.name}: {NOT_MEASURABLE}")
    sample = read_clock(camera.host, camera.onvif_port, camera.username, camera.password)
    return store(camera, sample)


def store(camera: Camera, sample: ClockSample) -> ClockReading:
    reading = ClockReading(
        camera=camera,
        measured_at=sample.box_utc,
        camera_time=sample.camera_utc,
        offset_seconds=round(sample.offset, 3),
        uncertainty_seconds=round(sample.uncertainty, 3),
        round_trip_seconds=round(sample.round_trip, 3),
    )
    with transaction.atomic():
        reading.save()
        outbox.report(outbox.CAMERA_CLOCK, reading)
    return reading


def measure_quietly(camera: Camera) -> ClockReading | None:
    """`measure`, then `keep_in_sync`; a failure is logged, never raised (adding, re-probing
    and the schedule must not fail because a clock could not be read)."""
    if camera.source != Camera.Source.ONVIF:
        return None
    try:
        reading = measure(camera)
    except ONVIFError as e:
        logger.warning("camera %s: clock not read: %s", camera, camera.redact(str(e)))
        return None
    if camera.sync_clock and abs(reading.offset_seconds) > settings.CAMERA_CLOCK_WARN_SECONDS:
        return keep_in_sync(camera, reading) or reading
    return reading


def keep_in_sync(camera: Camera, before: ClockReading) -> ClockReading | None:
    """Set the camera's clock to the box's, audit it (before/after), measure again."""
    try:
        set_clock(camera.host, camera.onvif_port, camera.username, camera.password)
    except ONVIFError as e:
        logger.warning("camera %s: clock not set: %s", camera, camera.redact(str(e)))
        camera_changed(
            camera,
            "clock not set",
            via="schedule",
            summary=f"the camera refused to set its clock ({e}); it stays "
            f"{describe_offset(before)}",
            username="system",
        )
        return None
    try:
        after = measure(camera)
    except ONVIFError as e:
        after, shown = None, f"not read again ({e})"
    else:
        shown = describe_offset(after)
    camera_changed(
        camera,
        "clock set",
        via="schedule",
        changed={"clock_offset_seconds": [before.offset_seconds, after and after.offset_seconds]},
        summary=f"camera clock set to the box's UTC time: was {describe_offset(before)}, "
        f"now {shown}",
        username="system",
    )
    return after


def warnings() -> list[str]:
    """Health warnings: enabled ONVIF cameras whose latest offset passes the threshold."""
    limit = settings.CAMERA_CLOCK_WARN_SECONDS
    out = []
    for camera in Camera.objects.enabled().filter(source=Camera.Source.ONVIF):
        reading = ClockReading.objects.latest_for(camera.pk)
        if reading is not None and abs(reading.offset_seconds) > limit:
            out.append(
                f"Camera {camera.name}'s clock is {describe_offset(reading)} against the box's "
                f"(measured {reading.measured_at:%Y-%m-%d %H:%M:%S} UTC; warning past "
                f"{limit:g} s): the time burned into its picture is off by that much."
            )
    return out


def health_entry(camera: Camera) -> dict:
    """The clock part of a camera's health entry."""
    reading = ClockReading.objects.latest_for(camera.pk)
    return {
        "clock_offset_seconds": reading.offset_seconds if reading else None,
        "clock_uncertainty_seconds": reading.uncertainty_seconds if reading else None,
        "clock_measured_at": reading.measured_at if reading else None,
        "clock": describe_offset(reading, camera),
    }


def box_clock() -> dict:
    """The box's own time source, shown beside the cameras' offsets."""
    synced = clock_synchronized()
    words = {True: "synchronised (NTP)", False: "NOT synchronised", None: "unknown"}
    return {"synchronized": synced, "state": words[synced]}


def manifest_entries(cameras: list[Camera], start: datetime, end: datetime) -> list[dict]:
    """Per camera in a clip: the offsets measured before and after the window, and what the
    camera's burned-in time should read at the window's start."""
    return [_manifest_entry(c, start, end) for c in cameras]


def _manifest_entry(camera: Camera, start: datetime, end: datetime) -> dict:
    entry: dict = {"camera_id": camera.pk, "camera": camera.name}
    if camera.source != Camera.Source.ONVIF:
        return {**entry, "clock": NOT_MEASURABLE}
    readings = ClockReading.objects.filter(camera=camera)
    before = readings.filter(measured_at__lte=start).order_by("-measured_at").first()
    after = readings.filter(measured_at__gte=end).order_by("measured_at").first()
    entry |= {"before": _reading(before), "after": _reading(after)}
    known = [r for r in (before, after) if r is not None]
    if not known:
        return {**entry, "clock": "not measured around this window"}
    offset = sum(r.offset_seconds for r in known) / len(known)
    burned = start + timedelta(seconds=offset)
    return {
        **entry,
        "offset_seconds": round(offset, 3),
        "clock": describe_offset(known[0]) if len(known) == 1 else f"{offset:+.1f} s",
        "burned_in_time_at_start_utc": burned.isoformat(timespec="milliseconds"),
        "statement": (
            f"At the clip's start, {start:%Y-%m-%d %H:%M:%S} UTC by the box's clock, the time "
            f"burned into {camera.name}'s picture should read about "
            f"{burned:%Y-%m-%d %H:%M:%S} UTC (camera clock {offset:+.1f} s)."
        ),
    }


def _reading(r: ClockReading | None) -> dict | None:
    if r is None:
        return None
    return {
        "measured_at_utc": r.measured_at.isoformat(timespec="milliseconds"),
        "offset_seconds": r.offset_seconds,
        "uncertainty_seconds": r.uncertainty_seconds,
    }
