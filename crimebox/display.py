"""Times once with their zone, sizes and durations in words: for pages and admin columns."""

from datetime import UTC, datetime

from django.utils import timezone


def _zone_is_utc() -> bool:
    return timezone.get_current_timezone_name() in ("UTC", "Etc/UTC", "Etc/UCT", "UCT")


def box_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """The time in the box's zone, named once; the UTC time beside it only when it differs."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    zone = local.tzname() or timezone.get_current_timezone_name()
    text = f"{local.strftime(fmt)} {zone}"
    if _zone_is_utc():
        return text.replace(f" {zone}", " UTC")
    utc_fmt = "%H:%M:%S" if "%S" in fmt else "%H:%M"
    return f"{text} ({value.astimezone(UTC).strftime(utc_fmt)} UTC)"


def box_window(start: datetime, end: datetime | None) -> str:
    """ "2026-11-23 18:57:00–18:59:00 UTC" (the date once when both ends share it)."""
    if end is None:
        return f"since {box_time(start)}"
    a, b = timezone.localtime(start), timezone.localtime(end)
    zone = "UTC" if _zone_is_utc() else (a.tzname() or "")
    same_day = a.date() == b.date()
    text = f"{a:%Y-%m-%d %H:%M:%S}–{b:%H:%M:%S}" if same_day else f"{a:%Y-%m-%d %H:%M:%S} – "
    if not same_day:
        text += f"{b:%Y-%m-%d %H:%M:%S}"
    text += f" {zone}"
    if zone != "UTC":
        text += f" ({start.astimezone(UTC):%H:%M:%S}–{end.astimezone(UTC):%H:%M:%S} UTC)"
    return text


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m:02d} min"


def mb(size: int | None) -> str:
    """Sizes in a list compare at a glance in one unit."""
    return "—" if size is None else f"{size / 1e6:.1f} MB"


def zone_name() -> str:
    return "UTC" if _zone_is_utc() else timezone.get_current_timezone_name()
