"""Writing a file whole or not at all: the one way a reader never sees half of one.

The bytes go to a temporary name of their own beside the target (unique per process and
thread, so two writers never share it; never following a planted link), then replace the
target in one rename.
"""

import errno
import os
import shutil
import threading
import uuid
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, mode: int = 0o640) -> None:
    """Replace `path` with `data`, created with `mode` (before the umask)."""
    raw = data.encode() if isinstance(data, str) else data
    partial = _beside(path)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def move_atomic(source: Path, path: Path) -> None:
    """Move `source` to `path`, which appears whole or not at all.

    One rename on the same filesystem. Across filesystems (an evidence store on its own mount,
    where a rename fails with EXDEV) the bytes are copied beside the target, flushed to disk,
    renamed into place, and only then is `source` removed: a kill at any point leaves the file
    whole in one place or the other, never half of it under the target's name."""
    try:
        os.replace(source, path)
        return
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
    partial = _beside(path)
    mode = source.stat().st_mode & 0o777
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with source.open("rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)  # the rename itself is on disk before the only other copy goes
    finally:
        os.close(folder)
    source.unlink()


def _beside(path: Path) -> Path:
    return path.with_name(
        f".{path.name}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}"
    )
