"""One audit entry per viewing of a segment, with the bytes it took.

Playing a segment is a page and then several partial requests for its file (the browser asks
for ranges as it plays and seeks; most end "interrupted"). Entries are hash-chained and never
change, so they are coalesced before anything is written: each request of the same person for
the same segment adds to one Viewing row, and when nothing has happened to it for `IDLE`
the row becomes one "play" entry (from, to, requests, bytes) and is deleted, in one
transaction, so the entry is written exactly once whoever closes it: the next request after
the pause, or the every-minute task (`close_idle`).

Why at the end and not at the first request: only then are the bytes known. Why this stays
correct under kill -9: the row is committed before the first byte of a viewing leaves the box,
so a killed web process cannot lose a viewing; the cluster writes its entry within a minute
of `IDLE` (or when it runs again). Bytes are added every `PROGRESS_SECONDS` while a response
streams and when it closes, so a kill loses at most those seconds' count of the one response
it cut, never the viewing. A stream paused for longer than `IDLE` (a paused video) ends its
viewing; what it sends after that is a new viewing.
"""

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from crimebox.utc import utc_iso

from . import log
from .models import AuditEvent, Viewing

IDLE = timedelta(minutes=2)
PROGRESS_SECONDS = 30.0


def _who(request: HttpRequest) -> tuple[User | None, str]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None, ""
    return user, user.get_username()


def touch(
    request: HttpRequest,
    *,
    camera: Any,  # a cameras.Camera: audit sits below cameras and does not import it
    target: str,
    file_bytes: int | None = None,
    action: str = AuditEvent.Action.PLAY,
) -> None:
    """A request of this viewing arrived (the player page, or a request for the file before
    its first byte is sent)."""
    now = timezone.now()
    user, username = _who(request)
    with transaction.atomic():
        row = Viewing.objects.filter(username=username, action=action, target=target).first()
        if row is not None and row.last_at < now - IDLE:
            _write(row)  # the earlier viewing ended: this request starts another
            row = None
        if row is None:
            _start(request, user, username, action, camera, target, now, file_bytes=file_bytes)
            return
        changes: dict = {"last_at": now, "requests": F("requests") + 1}
        if file_bytes is not None:
            changes["file_bytes"] = file_bytes  # an open segment grows
        Viewing.objects.filter(pk=row.pk).update(**changes)


def took(
    request: HttpRequest,
    *,
    camera: Any,  # a cameras.Camera: audit sits below cameras and does not import it
    target: str,
    sent: int,
    action: str = AuditEvent.Action.PLAY,
) -> None:
    """`sent` more bytes of this viewing were accepted by the socket."""
    now = timezone.now()
    user, username = _who(request)
    with transaction.atomic():
        mine = Viewing.objects.filter(username=username, action=action, target=target)
        if mine.update(bytes_sent=F("bytes_sent") + sent, last_at=now):
            return
        # Its viewing was closed while this response streamed (paused past IDLE): what it
        # sent since is a viewing of its own.
        _start(request, user, username, action, camera, target, now, bytes_sent=sent)


def _start(
    request: HttpRequest,
    user: Any,
    username: str,
    action: str,
    camera: Any,
    target: str,
    now: Any,
    **counts: Any,
) -> None:
    """A new viewing, begun by this request."""
    Viewing.objects.create(
        user=user,
        username=username,
        client_ip=log.client_ip(request),
        action=action,
        camera=camera,
        target=target,
        started_at=now,
        last_at=now,
        requests=1,
        **counts,
    )


def close_idle(now: datetime | None = None) -> int:
    """Write the entry of every viewing idle for `IDLE`; returns how many (the schedule)."""
    cutoff = (now or timezone.now()) - IDLE
    written = 0
    for pk in Viewing.objects.filter(last_at__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():  # IMMEDIATE: nobody else closes it in between
            row = Viewing.objects.filter(pk=pk, last_at__lt=cutoff).first()
            if row is not None:
                _write(row)
                written += 1
    return written


def _write(row: Viewing) -> AuditEvent:
    """The viewing's one entry; the row goes in the same transaction."""
    # The socket accepted bytes_sent; the kernel's buffers lay between it and the client,
    # which may have read less: at most (recordings/footage/media.py).
    detail = {
        "result": "viewed",
        "from": utc_iso(row.started_at),
        "to": utc_iso(row.last_at),
        "requests": row.requests,
        "bytes_sent": row.bytes_sent,
        "received": f"at most {row.bytes_sent} bytes",
        "bytes": row.file_bytes,
    }
    event = log.record(
        row.action,
        user=row.user,
        username=row.username,
        ip=row.client_ip,
        camera=row.camera,
        target=row.target,
        detail=detail,
    )
    row.delete()
    return event
