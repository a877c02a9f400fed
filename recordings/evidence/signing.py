"""The box's Ed25519 signing key: generated once into the data directory, never leaves it."""

from pathlib import Path

from django.conf import settings

from crimebox.keys import SigningKey, load_or_create

PRIVATE_NAME = "box_signing_key.pem"


def ensure_signing_key() -> SigningKey:
    """Load the box key, creating it (mode 0600, O_EXCL) on first use."""
    return load_or_create(Path(settings.KEYS_DIR) / PRIVATE_NAME)
