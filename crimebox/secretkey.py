"""SECRET_KEY from the environment, a file, or generated once into the keys directory.

Shared by the box's settings and the console's (rtcc/settings.py).
"""

import os
import secrets
from pathlib import Path

import environ


def secret_key(env: environ.Env, keys_dir: Path) -> str:
    if env.str("CRIMEBOX_SECRET_KEY", default=""):
        return str(env.str("CRIMEBOX_SECRET_KEY"))
    key_file = Path(env.str("CRIMEBOX_SECRET_KEY_FILE", default=str(keys_dir / "secret_key")))
    if key_file.is_file():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return key_file.read_text().strip()
    except OSError:
        return key  # unwritable data directory: crimebox.E003 says so
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
