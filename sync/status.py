"""Replication status: for /health, the front page and `sync_status`."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.utils import timezone

from . import claims, remote
from .models import ClipRequest, OutboxItem, SyncState
from .outbox import signing_key
from .requests import console_fingerprint
from .sender import SQUATTED

BACKLOG_WARNING = timedelta(hours=1)


def sync_status(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    state = SyncState.get()
    pending = OutboxItem.objects.pending()
    by_kind = {
        row["kind"]: row["n"]
        for row in pending.values("kind").annotate(n=Count("id")).order_by("kind")
    }
    oldest = pending.aggregate(t=Min("created_at"))["t"]
    mismatches = list(
        OutboxItem.objects.filter(state=OutboxItem.State.MISMATCH).values_list("doc_id", flat=True)[
            :20
        ]
    )
    problem = remote.config_problem() if remote.is_configured() else ""
    target = (
        remote.describe(remote.configured_uri()) if remote.is_configured() and not problem else ""
    )
    squatted = OutboxItem.objects.filter(last_error__startswith=SQUATTED)
    return {
        "box": settings.BOX_ID,
        "fingerprint": signing_key().fingerprint,  # what the RTCC console enrols
        "configured": remote.is_configured(),
        "problem": problem,
        "target": target,
        "backlog": sum(by_kind.values()),
        "backlog_by_kind": by_kind,
        "backlog_bytes": pending.aggregate(n=Sum("size"))["n"] or 0,
        "oldest_pending_at": oldest,
        "oldest_pending_age_s": int((now - oldest).total_seconds()) if oldest else None,
        "last_success_at": state.last_success_at,
        "last_error": state.last_error,
        "last_error_at": state.last_error_at,
        "failures": state.failures,
        "next_attempt_at": state.next_attempt_at,
        "mismatches": mismatches,
        "mismatch_count": OutboxItem.objects.filter(state=OutboxItem.State.MISMATCH).count(),
        "squatted": list(squatted.values_list("doc_id", flat=True)[:20]),
        "squatted_count": squatted.count(),
        "claimed": [
            {
                "pid": c.pid,
                "running": c.alive,
                "rows": c.rows,
                "since": c.since,
                "note": "" if c.alive else "its sender is not running: released at the next pass",
            }
            for c in claims.claimants()
        ],
        # Clips on request: the console key this box trusts ('' = requests never acted on).
        "console_key_fingerprint": console_fingerprint(),
        "clip_requests_open": ClipRequest.objects.open().count(),
    }


def problems(status: dict, now: datetime) -> tuple[list[str], list[str]]:
    alarms, warnings = [], []
    if status["problem"]:
        warnings.append(
            f"Replication to the RTCC is off: {status['problem']}. Recording is not affected; "
            "the outbox keeps every document until replication works (docs/sync.md)."
        )
    if status["squatted_count"]:
        alarms.append(
            f"Someone holding this box's datacenter login planted {status['squatted_count']} "
            f"document(s) under this box's ids (e.g. {status['squatted'][0]}): the box's own "
            "documents went to their alternate ids (<_id>~1…); see the audit trail."
        )
    if status["mismatch_count"]:
        alarms.append(
            f"The RTCC datacenter holds {status['mismatch_count']} document(s) that differ "
            f"from this box's (e.g. {status['mismatches'][0]}): see Replication → Outbox, "
            "state 'Different at the datacenter'."
        )
    oldest = status["oldest_pending_at"]
    if status["configured"] and oldest and now - oldest > BACKLOG_WARNING:
        warnings.append(
            f"Replication backlog: {status['backlog']} document(s) not delivered to the RTCC, "
            f"the oldest since {oldest:%Y-%m-%d %H:%M} UTC. Last error: "
            f"{status['last_error'] or 'none'}"
        )
    limit = settings.OUTBOX_MAX_MB * 1_000_000
    if status["backlog_bytes"] > limit:
        warnings.append(
            f"The replication outbox holds {status['backlog_bytes'] / 1e6:.0f} MB not yet "
            f"delivered, over its {settings.OUTBOX_MAX_MB} MB limit (CRIMEBOX_OUTBOX_MAX_MB) "
            "although undelivered heartbeats are dropped first: the rest are hashes, gaps and "
            "custody events, which are never dropped and use the box's disk until the RTCC "
            "is reachable again."
        )
    return alarms, warnings


def health_part(sender: object, now: datetime, **kwargs: object) -> dict:
    status = sync_status(now)
    alarms, warnings = problems(status, now)
    return {"name": "replication", "alarms": alarms, "warnings": warnings, "data": status}
