"""Live sessions: opened and kept fresh by the web's playlist requests, closed (and audited)
by the live supervisor once they stop."""

import hashlib
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from cameras.models import Camera

from .models import LiveSession


def session_gap() -> float:
    """No playlist request for this long: the person stopped watching. hls.js asks every
    ~1 s; 15 s rides over a stalled cellular link without splitting the session."""
    return min(15.0, float(settings.LIVE_IDLE_SECONDS))


def session_hash(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return hashlib.sha256((request.session.session_key or "").encode()).hexdigest()


def current(
    request: HttpRequest, camera: Camera, now: datetime | None = None
) -> LiveSession | None:
    """The viewer's open session of this camera, if any (the media files need one), kept
    fresh: `last_seen_at` is written at most every gap/3 seconds, not on every request."""
    now = now or timezone.now()
    key = session_hash(request)
    session = LiveSession.objects.open().filter(session_hash=key, camera=camera).first()
    if session is not None and (now - session.last_seen_at).total_seconds() >= session_gap() / 3:
        LiveSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now
    return session


def seen(
    request: HttpRequest, camera: Camera, stream: str, now: datetime | None = None
) -> LiveSession:
    """The viewer's open session of this camera, opened on its first playlist request."""
    now = now or timezone.now()
    session = current(request, camera, now)
    if session is not None:
        return session
    user = request.user if request.user.is_authenticated else None  # always, behind view_live
    return LiveSession.objects.create(
        camera=camera,
        camera_name=camera.name,
        user=user,
        username=user.get_username() if user else "",
        client_ip=log.client_ip(request),
        session_hash=session_hash(request),
        stream=stream,
        started_at=now,
        last_seen_at=now,
    )


def close_stale(now: datetime | None = None) -> int:
    """Close the sessions whose playlist requests stopped; one audit entry each."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=session_gap())
    closed = 0
    for session in LiveSession.objects.open().filter(last_seen_at__lt=cutoff):
        closed += close(session)
    return closed


def close(session: LiveSession) -> int:
    """Ends at its last playlist request. Claimed with a conditional UPDATE so a second
    supervisor (or a retry) cannot audit it twice."""
    with transaction.atomic():
        claimed = LiveSession.objects.filter(pk=session.pk, ended_at=None).update(
            ended_at=session.last_seen_at
        )
        if claimed != 1:
            return 0
        session.ended_at = session.last_seen_at
        log.record(
            AuditEvent.Action.LIVE,
            user=session.user,
            username=session.username,
            ip=session.client_ip,
            camera=Camera.objects.filter(pk=session.camera_id or 0).first(),
            target=f"live {session.camera_name} ({session.get_stream_display().lower()})",
            detail={
                "started_at": session.started_at.isoformat(),
                "ended_at": session.ended_at.isoformat(),
                "duration_seconds": round(session.duration_seconds, 1),
                "stream": session.stream,
                "live_session": session.pk,
            },
        )
    return 1
