"""Log state changes, not loops: Django-Q's lines about each task run are dropped.

Django-Q logs four INFO lines per run (scheduled, enqueued, processing, processed): with the
every-minute retention and sync schedules that is thousands of lines a day in a journal kept in
RAM. Its start, stop and worker lines stay, and failures are logged at ERROR anyway. With
CRIMEBOX_LOG_LEVEL=DEBUG nothing is dropped.
"""

import logging

PER_RUN = ("Enqueued [", " created task ", " processing ", "Processed '")


class QuietTaskRuns(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        message = record.getMessage()
        return not any(marker in message for marker in PER_RUN)
