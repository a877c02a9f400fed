"""Who holds claimed outbox rows, and whether that sender is still alive.

A claim token names its sender: `<pid hex>-<first 8 hex of the boot id>-<random>` (at most 32
characters, the column's size). Every process that sends runs on the box itself (they share its
SQLite database), so a claim made in an earlier boot, or by a pid that no longer runs, belongs
to a killed worker: its rows are released at once instead of waiting for the 5-minute lease.
A token that names no sender (older tokens) or a pid reused by another process still waits
for the lease, which stays the upper bound.
"""

import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Count, Min

from .models import OutboxItem

logger = logging.getLogger(__name__)

TOKEN = re.compile(r"^([0-9a-f]{1,8})-([0-9a-f]{8})-[0-9a-f]{4,}$")


def _boot() -> str:
    try:
        text = Path("/proc/sys/kernel/random/boot_id").read_text()
    except OSError:
        return "00000000"
    return (text.strip().replace("-", "") + "0" * 8)[:8]


def new_token() -> str:
    return f"{os.getpid():x}-{_boot()}-{uuid.uuid4().hex[:12]}"


@dataclass
class Claimant:
    token: str
    pid: int | None
    alive: bool
    rows: int = 0
    since: object = None

    def describe(self) -> str:
        who = f"pid {self.pid}" if self.pid else "an unnamed sender"
        return f"{who} ({'running' if self.alive else 'not running'})"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge, the lease decides
    try:  # a killed child its parent has not reaped yet is a zombie: dead all the same
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def claimant(token: str) -> Claimant:
    match = TOKEN.match(token)
    if match is None:
        return Claimant(token, None, alive=True)
    pid, boot = int(match.group(1), 16), match.group(2)
    alive = boot == _boot() and (pid == os.getpid() or _running(pid))
    return Claimant(token, pid, alive)


def claimants() -> list[Claimant]:
    """The senders holding pending rows now, with how many rows and since when."""
    rows = (
        OutboxItem.objects.pending()
        .exclude(claim="")
        .values("claim")
        .annotate(n=Count("id"), since=Min("claimed_at"))
        .order_by("since")
    )
    out = []
    for row in rows:
        who = claimant(row["claim"])
        who.rows, who.since = row["n"], row["since"]
        out.append(who)
    return out


def release_dead() -> int:
    """Release the rows of every claim whose sender is no longer running; how many."""
    released = 0
    for who in claimants():
        if who.alive:
            continue
        n = OutboxItem.objects.pending().filter(claim=who.token).update(claim="", claimed_at=None)
        if n:
            logger.warning(
                "sync: %d outbox row(s) claimed by %s since %s released at once",
                n,
                who.describe(),
                who.since,
            )
        released += n
    return released
