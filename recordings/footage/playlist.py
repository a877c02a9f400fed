"""What the player needs to play on through a camera's day: its segments and gaps, in order."""

from datetime import date, datetime, timedelta
from typing import cast

from django.urls import reverse
from django.utils import timezone

from cameras.models import Camera

from ..models import Segment
from .timeline import day_timeline


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def day_playlist(camera: Camera, day: date, now: datetime | None = None) -> dict:
    """The local day's playable segments (the one being written included, up to now) and
    gaps as epoch milliseconds, for the player's queue and its scrubber."""
    now = now or timezone.now()
    tl = day_timeline(camera, day, now=now)
    segments = [
        {
            "id": s.pk,
            "start": epoch_ms(s.start),
            "end": epoch_ms(s.end),
            "src": reverse("recordings:media", args=[s.pk]),
            "url": reverse("recordings:player", args=[s.pk]),
            "played": reverse("recordings:played", args=[s.pk]),
            "recording": s.is_recording,
            "status": s.get_status_display(),
            "held": s.on_hold,
            "sha256": s.sha256,
            "sequence": s.sequence,
            "chain_hash": s.chain_hash or "",
            "details": segment_details(s),
            "clock": {
                True: "NTP-synchronised when the segment closed",
                False: "not "
                "NTP-synchronised when the segment closed: its times are as the box's "
                "clock said",
                None: "unknown",
            }[s.clock_synced],
            "download": "" if not s.is_on_disk else reverse("recordings:download", args=[s.pk]),
        }
        for s in tl["segments"]
        if s.is_playable
    ]
    gaps = [
        {
            "start": epoch_ms(g.start),
            "end": epoch_ms(g.end or min(now, tl["day_end"])),
            "cause": g.get_cause_display() + (f" ({g.detail})" if g.detail else ""),
        }
        for g in tl["gaps"]
    ]
    today = timezone.localdate(now)
    return {
        "camera": camera.pk,
        "day": day.isoformat(),
        "day_start": epoch_ms(tl["day_start"]),
        "day_end": epoch_ms(tl["day_end"]),
        "now": epoch_ms(now),
        "zone": timezone.get_current_timezone_name(),
        # The zone's abbreviations by UTC offset in minutes (CET/CEST), as the pages name them.
        "zone_names": {
            # localtime() is aware: its offset is never None.
            str(int(cast(timedelta, local.utcoffset()).total_seconds() // 60)): local.tzname()
            for local in (
                timezone.localtime(tl["day_start"]),
                timezone.localtime(tl["day_end"] - timedelta(seconds=1)),
            )
        },
        "segments": sorted(segments, key=lambda s: s["start"]),
        "gaps": gaps,
        "next_day": None if day >= today else day.fromordinal(day.toordinal() + 1).isoformat(),
    }


def segment_details(s: Segment) -> str:
    if s.is_recording:
        return "being recorded: the player shows what is written so far"
    return f"{s.duration:.2f} s, {s.codec} {s.width}×{s.height} @ {s.fps} fps"
