"""A camera's provenance: one builder, one schema, for the evidence manifest and the
datacenter's `cameras` document alike, so a court sees the same camera in a package and at
the RTCC (two builders once drifted: `id` vs `camera_id`, a latitude of 0 sent as "").
Documents carry no floats: the frame rate is `fps_milli` (frames per 1,000 s) and
coordinates are decimal strings with six decimals (None when unknown, 0 kept as
"0.000000")."""

from decimal import Decimal
from typing import Any

from crimebox.redaction import redact_url

from .models import Camera


def milli(value: float | None) -> int | None:
    return None if value is None else round(value * 1000)


def _decimal(value: Any) -> str | None:
    """Six decimals as the database stores them, whether the row was just typed or read back
    (Decimal("0") and Decimal("0.000000") are one coordinate, one document)."""
    return None if value is None else f"{Decimal(value).quantize(Decimal('0.000001'))}"


def provenance(camera: Camera) -> dict[str, Any]:
    return {
        "camera_id": camera.pk,
        "name": camera.name,
        "location": camera.location,
        "latitude": _decimal(camera.latitude),
        "longitude": _decimal(camera.longitude),
        "facing_degrees": camera.facing_degrees,
        "source": camera.source,
        "host": camera.host,
        "manufacturer": camera.manufacturer,
        "model": camera.model,
        "serial_number": camera.serial_number,
        "firmware_version": camera.firmware_version,
        "hardware_id": camera.hardware_id,
        "onvif_profile": camera.main_profile_token,
        "stream_uri": redact_url(camera.main_stream_uri),
        "codec": camera.main_codec,
        "width": camera.main_width,
        "height": camera.main_height,
        "fps_milli": milli(camera.main_fps),
        "is_enabled": camera.is_enabled,
        "record_audio": camera.record_audio,
    }
