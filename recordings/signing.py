"""The box's Ed25519 signing key (issue #4 fills this in)."""

from dataclasses import dataclass


@dataclass
class BoxKey:
    fingerprint: str


def ensure_signing_key() -> BoxKey:
    return BoxKey(fingerprint="(not yet implemented)")
