"""Log state changes, not loops: Django-Q's lines about each task run are dropped; and every
line is one line (control characters escaped).

Django-Q logs four INFO lines per run (scheduled, enqueued, processing, processed): with the
every-minute retention and sync schedules that is thousands of lines a day in a journal kept in
RAM. Its start, stop and worker lines stay, and failures are logged at ERROR anyway. With
CRIMEBOX_LOG_LEVEL=DEBUG nothing is dropped.
"""

import logging
import re
from typing import Any

PER_RUN = ("Enqueued [", " created task ", " processing ", "Processed '")


class QuietTaskRuns(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        message = record.getMessage()
        return not any(marker in message for marker in PER_RUN)


# C0 controls, DEL, C1 controls and the Unicode line/paragraph separators: any of them in a
# camera name, a user name or a device's answer could start what looks like a new log line.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """`text` on one line: control characters written as escapes (\\n, \\x1b, \\u2028)."""
    return _CONTROLS.sub(lambda m: _NAMED.get(m[0]) or ascii(m[0])[1:-1], text)


class OneLineFormatter(logging.Formatter):
    """Every record is one line whatever its message carries (a camera named "A\\nCRITICAL
    ..." cannot forge a line); a traceback's lines are indented, so none starts a record."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join("  " + escape_controls(line) for line in text.split("\n"))
