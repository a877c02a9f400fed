"""The box key: created once with mode 0600, concurrent first uses agree, signatures verify."""

import hashlib
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from recordings.evidence import signing


@pytest.fixture
def keys_dir(tmp_path, settings):
    settings.KEYS_DIR = str(tmp_path / "keys")
    (tmp_path / "keys").mkdir()
    return tmp_path / "keys"


def test_key_is_private_and_stable(keys_dir):
    first = signing.ensure_signing_key()
    mode = stat.S_IMODE((keys_dir / signing.PRIVATE_NAME).stat().st_mode)
    assert mode == 0o600
    assert signing.ensure_signing_key().fingerprint == first.fingerprint


def test_concurrent_first_uses_agree(keys_dir):
    with ThreadPoolExecutor(8) as pool:
        prints = set(pool.map(lambda _: signing.ensure_signing_key().fingerprint, range(16)))
    assert len(prints) == 1


def test_signature_and_fingerprint(keys_dir):
    key = signing.ensure_signing_key()
    public = serialization.load_pem_public_key(key.public_pem)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key.fingerprint == hashlib.sha256(raw).hexdigest()
    sig = key.sign(b"manifest")
    public.verify(sig, b"manifest")
    with pytest.raises(InvalidSignature):
        public.verify(sig, b"manifesT")
