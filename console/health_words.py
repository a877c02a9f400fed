"""The box's health (recordings.health.health_status) said in words for a person."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from crimebox.display import box_time, human_size

HEADLINES = {
    "ok": "Everything is working.",
    "warning": "Working, but something needs a look.",
    "critical": "Needs attention now.",
}


def health_in_words(health: dict, now: datetime | None = None) -> dict:
    """{"level", "headline", "problems": [...], "facts": [...]} from a health_status dict."""
    now = now or timezone.now()
    cameras = health["cameras"]
    enabled = [c for c in cameras if c["enabled"]]
    recording = [c for c in enabled if c["status"] == "recording"]
    facts = [
        f"{len(recording)} of {len(enabled)} enabled camera(s) recording"
        + (f"; {len(cameras) - len(enabled)} disabled." if len(cameras) > len(enabled) else ".")
    ]
    facts.append(recorder_words(health["recorder_heartbeat"], now))
    disk = health["disk"]
    facts.append(
        f"Disk: {human_size(disk['free'])} free of {human_size(disk['total'])}; the oldest "
        f"footage not on hold is deleted to keep {human_size(disk['floor'])} free."
    )
    facts.append(integrity_words(health["last_integrity_check"]))
    facts.append(
        f"Evidence packages and the documents replicated to the RTCC are signed with the box "
        f"key {health['signing_key_fingerprint']}: the RTCC console enrols box "
        f"{settings.BOX_ID} by this fingerprint."
    )
    if "replication" in health:
        facts.append(replication_words(health["replication"], now))
    if "live" in health:
        facts.append(
            "The live view service is running."
            if health["live"]["service_running"]
            else "The live view service is not running (recording is not affected)."
        )
    return {
        "level": health["status"],
        "headline": HEADLINES[health["status"]],
        "problems": [("critical", a) for a in health["alarms"]]
        + [("warning", w) for w in health["warnings"]],
        "facts": facts,
    }


def recorder_words(beat: datetime | None, now: datetime) -> str:
    if beat is None:
        return "The recorder has not reported since the box started."
    age = int((now - beat).total_seconds())
    return f"The recorder last reported {age} s ago ({box_time(beat)})."


def integrity_words(check: dict | None) -> str:
    if check is None:
        return "No integrity check has run yet (one runs every day)."
    when = box_time(check["at"], "%Y-%m-%d %H:%M")
    if not check["ok"]:
        return f"The last integrity check ({when}) found {check['problems']} problem(s)."
    if check["checked"]:
        words = (
            f"The last integrity check ({when}) found all {check['checked']} segment(s) unaltered."
        )
    else:
        words = f"The last integrity check ({when}) ran before any footage existed."
    since, next_at = check.get("closed_since", 0), check.get("next_at")
    if since:
        words += f" {since} segment(s) closed since, each hashed as it closed"
        words += (
            f"; the next check ({box_time(next_at, '%Y-%m-%d %H:%M')}) re-reads them."
            if next_at
            else "."
        )
    return words


def replication_words(sync: dict, now: datetime) -> str:
    """Replication to the RTCC (sync/status.py): configured, backlog, last success/error."""
    backlog = sync["backlog"]
    by_kind = ", ".join(f"{n} {kind}" for kind, n in sync["backlog_by_kind"].items())
    waiting = f"{backlog} document(s) waiting ({by_kind})" if backlog else "nothing waiting"
    if not sync["configured"]:
        return (
            f"Replication to the RTCC is not configured (CRIMEBOX_RTCC_URI): {waiting}, "
            "kept until it is."
        )
    oldest = sync["oldest_pending_at"]
    since = f", the oldest since {box_time(oldest)}" if oldest else ""
    last = sync["last_success_at"]
    ok = f"last delivery {box_time(last)}" if last else "nothing delivered yet"
    error = f"; last error: {sync['last_error']}" if sync["last_error"] and sync["failures"] else ""
    return f"Replication to the RTCC ({sync['target']}): {waiting}{since}; {ok}{error}. " + (
        clip_words(sync)
    )


def clip_words(sync: dict) -> str:
    """Which RTCC console may ask this box for clips (docs/sync.md, "Clips on request")."""
    key = sync.get("console_key_fingerprint")
    if not key:
        return "Clip requests from the RTCC are not acted on (no CRIMEBOX_RTCC_CONSOLE_KEY_FILE)."
    open_ = sync.get("clip_requests_open", 0)
    return f"Clip requests are accepted from the RTCC console key {key}" + (
        f"; {open_} in progress." if open_ else "."
    )
