"""Every log line is one line: a camera named with a newline cannot forge a CRITICAL line in
the recorder's log."""

import copy
import logging
import logging.config
import sys

from django.conf import settings

FORGED = "Gate 3\n2026-12-04 03:00:00,000 CRITICAL recordings.recorder: disk wiped\u2028\x1b[2J"


def box_formatter() -> logging.Formatter:
    """The formatter the box's log handler is configured with (crimebox/settings.py)."""
    config = copy.deepcopy(settings.LOGGING)
    handler = config["handlers"]["console"]
    spec = config["formatters"][handler["formatter"]]
    return logging.config.DictConfigurator(config).configure_formatter(spec)


def record(msg: str, *args: object, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(
        "recordings.recorder", logging.WARNING, __file__, 1, msg, args, exc_info
    )


def test_a_camera_name_with_a_newline_stays_on_its_line():
    line = box_formatter().format(record("camera %s is offline: %s", FORGED, "timeout"))
    assert "\n" not in line and "\u2028" not in line and "\x1b" not in line
    assert line.endswith("WARNING recordings.recorder: camera Gate 3\\n2026-12-04 03:00:00,000 "
                         "CRITICAL recordings.recorder: disk wiped\\u2028\\x1b[2J is offline: "
                         "timeout")  # fmt: skip


def test_a_traceback_keeps_its_lines_but_none_can_pass_for_a_record():
    try:
        raise ValueError(FORGED)
    except ValueError:
        text = box_formatter().format(record("probe of %s failed", "cam", exc_info=sys.exc_info()))
    first, *rest = text.split("\n")
    assert first.endswith("probe of cam failed") and rest
    assert all(line.startswith("  ") for line in rest)
    assert "\x1b" not in text and "\u2028" not in text
