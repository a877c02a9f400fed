"""The box's heartbeat document, every 60 s: what the RTCC console shows for a box right now.

Pi-only values (crimebox/pi.py: CPU temperature, throttling and under-voltage flags, model,
footage on the SD card) and ZeroTier
(`zerotier-cli`, when installed and readable) are null where the machine has none.
"""

import json
import logging
import os
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

import crimebox
from cameras.models import Camera
from crimebox import pi
from crimebox.clock import clock_synchronized
from crimebox.signature import ms
from recordings.models import Segment

from .documents import base
from .models import OutboxItem, SyncState
from .outbox import add

logger = logging.getLogger(__name__)

SILENCE = timedelta(seconds=90)  # the schedule runs each minute, up to ~20 s late


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def boot_id() -> str | None:
    return _read(Path("/proc/sys/kernel/random/boot_id"))


def uptime_seconds() -> int | None:
    text = _read(Path("/proc/uptime"))
    return int(float(text.split()[0])) if text else None


def memory() -> dict:
    """Total and available memory in bytes, from /proc/meminfo."""
    out: dict[str, int | None] = {"total": None, "available": None}
    for line in (_read(Path("/proc/meminfo")) or "").splitlines():
        name, _, value = line.partition(":")
        if name in ("MemTotal", "MemAvailable"):
            out["total" if name == "MemTotal" else "available"] = int(value.split()[0]) * 1024
    return out


def pi_health(root: Path | None = None) -> dict:
    """Temperature, throttle flags, model and whether footage is on the SD card."""
    root = root or pi.ROOT
    return {
        **pi.health(root),
        "model": pi.model(root),
        "recordings_on_sd_card": pi.on_sd_card(settings.RECORDINGS_DIR, root),
    }


def zerotier() -> dict | None:
    cli = shutil.which("zerotier-cli")
    if cli is None:
        return None
    try:
        info = subprocess.run(
            [cli, "-j", "info"], capture_output=True, text=True, timeout=5, check=True
        )
        nets = subprocess.run(
            [cli, "-j", "listnetworks"], capture_output=True, text=True, timeout=5, check=True
        )
        info_j, nets_j = json.loads(info.stdout), json.loads(nets.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return {"available": False}
    return {
        "available": True,
        "address": info_j.get("address"),
        "online": info_j.get("online"),
        "version": info_j.get("version"),
        "networks": [
            {"id": n.get("id"), "status": n.get("status"), "addresses": n.get("assignedAddresses")}
            for n in nets_j
        ],
    }


def camera_states() -> list[dict]:
    out = []
    for camera in Camera.objects.all():
        head = Segment.objects.filter(camera=camera).last_chained()
        out.append(
            {
                "camera_id": camera.pk,
                "name": camera.name,
                "enabled": camera.is_enabled,
                "status": camera.status,
                "latitude": str(camera.latitude) if camera.latitude is not None else None,
                "longitude": str(camera.longitude) if camera.longitude is not None else None,
                "last_segment_end": ms(head.end) if head else None,
                "chain_sequence": head.sequence if head else None,
                "chain_hash": head.chain_hash if head else None,
                "last_error": camera.redact(camera.last_error)[:500],
            }
        )
    return out


def heartbeat_doc(sequence: int, now: datetime, zt: dict | None = None) -> dict:
    usage = shutil.disk_usage(settings.RECORDINGS_DIR)
    pending = OutboxItem.objects.pending()
    oldest = pending.aggregate(t=Min("created_at"))["t"]
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    boot = boot_id()
    return base(
        "heartbeat",
        f"{boot or 'noboot'}:{sequence}",
        sequence=sequence,
        time=ms(now),
        boot_id=boot,
        uptime_s=uptime_seconds(),
        load_centi=[round(x * 100) for x in load] if load else None,
        memory=memory(),
        disk={"total": usage.total, "free": usage.free},
        pi=pi_health(),
        clock_synced=clock_synchronized(),
        software=f"crimebox {crimebox.__version__}",
        cameras=camera_states(),
        outbox={
            "pending": pending.count(),
            "oldest_age_s": int((now - oldest).total_seconds()) if oldest else None,
        },
        zerotier=zt,
    )


def beat(now: datetime | None = None) -> OutboxItem | None:
    """Write one heartbeat into the outbox, its number taken by a conditional UPDATE
    (F() + 1) in the same transaction: a kill or a stale copy of the row saved elsewhere can
    never make two heartbeats share a number. A minute without one is said in the log."""
    now = now or timezone.now()
    zt = zerotier()  # a subprocess: outside the write transaction
    with transaction.atomic():
        row = SyncState.objects.filter(pk=SyncState.get().pk)
        row.update(heartbeat_sequence=F("heartbeat_sequence") + 1)
        sequence = row.values_list("heartbeat_sequence", flat=True)[0]
        _say_silence(now)
        item = add(heartbeat_doc(sequence, now, zt), now=now)
    if item is None:
        logger.error("heartbeat %d at %s was not written: its _id is taken", sequence, now)
    return item


def _say_silence(now: datetime) -> None:
    """Log how long the box was silent when the previous heartbeat is over ~a minute old."""
    last = (
        OutboxItem.objects.filter(kind="heartbeat", created_at__lt=now)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is not None and now - last > SILENCE:
        logger.warning(
            "heartbeat: none for %d s before this one (since %s UTC): the cluster was stopped "
            "or its schedule ran late",
            (now - last).total_seconds(),
            f"{last:%Y-%m-%d %H:%M:%S}",
        )
