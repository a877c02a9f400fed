"""UTC as text where it must never vary: inside hashes, manifests and file names."""

from datetime import UTC, datetime


def utc_iso(dt: datetime) -> str:
    """Canonical text of a time inside hashes: UTC, microseconds, 'Z'."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
