"""Is the system clock synchronised? Segment names and times are only as good as the clock.

A Raspberry Pi has no battery-backed clock: after a power cut it boots with the time saved at
the last shutdown (fake-hwclock) until NTP reaches a server, which a box with its backhaul down
may not do for hours. The kernel knows whether NTP has disciplined the clock: adjtimex(2) with
no changes returns TIME_ERROR (5) while it is unsynchronised. Reading it needs no privilege.
"""

import ctypes
import ctypes.util
import functools
import sys

TIME_ERROR = 5


@functools.cache
def _libc() -> ctypes.CDLL:
    # find_library runs ldconfig in a subprocess: once per process is enough.
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def clock_synchronized() -> bool | None:
    """True or False on Linux, None where the kernel cannot be asked."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        timex = ctypes.create_string_buffer(512)  # struct timex (~208 bytes); modes = 0: read only
        state = _libc().adjtimex(timex)
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR
