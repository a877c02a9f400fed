"""Writing a file whole or not at all: the one way a reader never sees half of one.

The bytes go to a temporary name of their own beside the target (unique per process and
thread, so two writers never share it; never following a planted link), then replace the
target in one rename.
"""

import os
import threading
import uuid
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, mode: int = 0o640) -> None:
    """Replace `path` with `data`, created with `mode` (before the umask)."""
    raw = data.encode() if isinstance(data, str) else data
    partial = path.with_name(
        f".{path.name}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}"
    )
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
