"""recordings/checks.py: the free-space warning uses the floor retention keeps."""

import shutil

from django.core.checks import run_checks

from recordings.retention import free_floor


def free_space_warnings():
    return [m for m in run_checks() if m.id == "crimebox.W001"]


def test_the_free_space_check_warns_below_the_percent_floor_retention_keeps(settings):
    usage = shutil.disk_usage(settings.RECORDINGS_DIR)
    settings.MIN_FREE_GB = 0.001  # the GB floor alone is met on any disk
    settings.MIN_FREE_PERCENT = 100  # the percent floor is not: retention would prune
    assert usage.free < free_floor(usage.total)
    (warning,) = free_space_warnings()
    assert "CRIMEBOX_MIN_FREE_PERCENT=100 %" in warning.msg
    assert "CRIMEBOX_MIN_FREE_PERCENT" in warning.hint


def test_no_free_space_warning_above_both_floors(settings):
    settings.MIN_FREE_GB = 0.001
    settings.MIN_FREE_PERCENT = 0.001
    assert free_space_warnings() == []
