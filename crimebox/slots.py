"""Slot pools shared by every web process: `count` lock files in a folder, each slot held as
an flock on one of them. Taking a slot never waits; the kernel drops the flock when the
descriptor is closed or its process dies, so a crashed worker never keeps a slot.

The downloads (recordings/footage/media.py) and the cameras' stills (live/stills.py) use it.
"""

import fcntl
import os
from pathlib import Path


def take(folder: Path, prefix: str, count: int) -> int | None:
    """A descriptor holding one of the slots `{prefix}-0.lock` … `{prefix}-{count - 1}.lock`
    in `folder` (close it to give the slot back), or None when every one is held."""
    for n in range(count):
        fd = os.open(folder / f"{prefix}-{n}.lock", os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd
    return None
