"""crimebox/slots.py: a pool of flock slots shared by every process."""

import os
import subprocess
import sys

from crimebox import slots


def test_slots_are_taken_until_none_is_left_and_come_back_when_closed(tmp_path):
    first = slots.take(tmp_path, "slot", 2)
    second = slots.take(tmp_path, "slot", 2)
    assert first is not None and second is not None
    assert slots.take(tmp_path, "slot", 2) is None
    assert slots.take(tmp_path, "other", 1) is not None  # another pool, its own files
    os.close(first)
    again = slots.take(tmp_path, "slot", 2)
    assert again is not None
    for fd in (second, again):
        os.close(fd)


def test_a_slot_held_by_another_process_is_taken(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; "
         f"fd = os.open({str(tmp_path / 'slot-0.lock')!r}, os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert slots.take(tmp_path, "slot", 1) is None
    finally:
        holder.kill()
        holder.wait()
    fd = slots.take(tmp_path, "slot", 1)  # the kernel dropped the dead holder's lock
    assert fd is not None
    os.close(fd)
