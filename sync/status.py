"""Replication status: for /health, the front page and `sync_status`."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.utils import timezone

from . import remote
from .models import ClipRequest, OutboxItem, SyncState
from .requests import console_fingerprint

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
    try:
        target = remote.describe(remote.configured_uri()) if remote.is_configured() else ""
    except remote.RemoteError as e:
        target = str(e)
    return {
        "configured": remote.is_configured(),
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
        # Clips on request: the console key this box trusts ('' = requests never acted on).
        "console_key_fingerprint": console_fingerprint(),
        "clip_requests_open": ClipRequest.objects.open().count(),
    }


def problems(status: dict, now: datetime) -> tuple[list[str], list[str]]:
    alarms, warnings = [], []
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
