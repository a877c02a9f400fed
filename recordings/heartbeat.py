"""The recorder's heartbeat: a small file it rewrites every few seconds while it runs.

Health reads its age: enabled cameras and no fresh heartbeat means nothing is being recorded
(the recorder crashed, was stopped or never started). A file, not a row, so a locked or
broken database cannot hide a live recorder and the beat costs no database write.
"""

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

INTERVAL = 10.0  # seconds between beats
MAX_AGE = 60.0  # older than this: the recorder is not running

logger = logging.getLogger(__name__)


def heartbeat_path() -> Path:
    return Path(settings.DATA_DIR) / "recorder.heartbeat"


def beat(now: float) -> None:
    """Never raises: a full disk must not stop the recorder (health then says it is down)."""
    path = heartbeat_path()
    try:
        path.write_text(f"{os.getpid()} {datetime.fromtimestamp(now, UTC).isoformat()}\n")
        os.utime(path, (now, now))
    except OSError as e:
        logger.warning("cannot write the recorder heartbeat %s: %s", path, e)


def last_beat() -> datetime | None:
    try:
        return datetime.fromtimestamp(heartbeat_path().stat().st_mtime, UTC)
    except FileNotFoundError:
        return None


def stop() -> None:
    """A clean stop removes it: health reports the recorder down with no last-seen time."""
    heartbeat_path().unlink(missing_ok=True)
