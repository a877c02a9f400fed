"""Clip requests from the RTCC console, the box's half: find, check, answer (docs/sync.md).

The box finds the requests addressed to it with one indexed `find` ({box, created_at >= since})
and acts only on requests signed by the console key it was configured to trust
(CRIMEBOX_RTCC_CONSOLE_KEY_FILE): a stolen box or any MongoDB user that is not the console
cannot make this box export footage. Every request it acts on is an audit fact (replicated);
every request it cannot satisfy gets an answer saying why, never silence.
"""

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from cameras.models import Camera
from crimebox import retrieval as proto
from crimebox.keys import fingerprint_of, public_key_from_pem
from crimebox.signature import ms, to_body, verify
from recordings.models import Segment
from recordings.validators import clean_case_number, clean_reason, clean_text

from . import documents, remote
from .models import ClipRequest
from .outbox import add

logger = logging.getLogger(__name__)

FIRST_LOOK = timedelta(days=7)  # a box configured or back from dark finds a week of requests
MARGIN = timedelta(hours=1)  # the console's inserts may land out of created_at order
FUTURE_SLACK = timedelta(minutes=10)


class Refused(Exception):
    """A request the box will not satisfy; the message is the answer the console shows."""


def console_key() -> Ed25519PublicKey | None:
    """The console key this box trusts, or None when none is configured (or unreadable:
    the system check sync.W002 says why at start-up)."""
    path = settings.RTCC_CONSOLE_KEY_FILE
    if not path:
        return None
    try:
        return public_key_from_pem(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        logger.error("CRIMEBOX_RTCC_CONSOLE_KEY_FILE %s is unusable: %s", path, e)
        return None


def console_fingerprint() -> str:
    key = console_key()
    return fingerprint_of(key) if key is not None else ""


def is_trusted(doc: dict, key: Ed25519PublicKey | None) -> bool:
    sig = doc.get("sig") or {}
    return key is not None and sig.get("key") == fingerprint_of(key) and verify(doc, key)


def since(now: datetime) -> datetime:
    """Where this pass's find starts: before the newest trusted request seen (never one
    claiming a future time: a forged far-future request must not hide the real ones)."""
    newest = (
        ClipRequest.objects.exclude(state=ClipRequest.State.IGNORED)
        .filter(created_at__lte=now + FUTURE_SLACK)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return (newest - MARGIN) if newest else now - FIRST_LOOK


def poll(now: datetime | None = None) -> int:
    """One find for this box's requests and cancellations; returns how many were new."""
    now = now or timezone.now()
    key = console_key()
    if key is None or not remote.is_configured():
        return 0
    docs = remote.find(
        proto.REQUESTS,
        {"box": settings.BOX_ID, "created_at": {"$gte": ms(since(now))}},
        sort=[("created_at", 1)],
        limit=500,
    )
    new = 0
    for doc in docs:
        if doc.get("kind") == proto.CANCEL_KIND:
            cancel(doc, key)
        elif not ClipRequest.objects.filter(request=str(doc.get("request", ""))[:64]).exists():
            receive(doc, key, now)
            new += 1
    return new


def receive(doc: dict, key: Ed25519PublicKey | None, now: datetime) -> ClipRequest:
    """Store a request the first time it is seen; answer it at once when it is bad."""
    request = str(doc.get("request", ""))[:64]
    trusted = is_trusted(doc, key) and doc.get("box") == settings.BOX_ID
    fields: dict[str, Any] = {"request": request, "doc": to_body(doc)[:100_000]}
    if not trusted or doc.get("kind") != proto.REQUEST_KIND:
        fields["state"] = ClipRequest.State.IGNORED
        fields["last_error"] = "not signed by the RTCC console key this box trusts"
        return _store_ignored(fields, doc)
    fields |= {
        "camera_name": str(doc.get("camera", ""))[:200],
        "start": doc.get("start"),
        "end": doc.get("end"),
        "case_number": str(doc.get("case_number", ""))[:200],
        "user": str(doc.get("user", ""))[:200],
        "priority": doc.get("priority") if isinstance(doc.get("priority"), int) else 0,
        "created_at": doc.get("created_at"),
    }
    try:
        job = ClipRequest.objects.create(**fields)
    except IntegrityError:  # another worker stored it first
        return ClipRequest.objects.get(request=request)
    try:
        check(job, doc, now)
    except Refused as e:
        answer(job, proto.REFUSED, str(e))
        return job
    camera = Camera.objects.get(name=job.camera_name)
    with transaction.atomic():
        log.record(
            AuditEvent.Action.SYSTEM,
            username=f"rtcc:{job.user}",
            camera=camera,
            # "camera N": the package's custody record lists it (recordings/evidence/manifest.py).
            target=f"camera {camera.pk}",
            detail={
                "event": "clip requested at the RTCC",
                "rtcc_request": job.request,
                "rtcc_user": job.user,
                "case": job.case_number,
                "reason": doc.get("reason", ""),
                "start": job.start,
                "end": job.end,
                "console_key": (doc.get("sig") or {}).get("key", ""),
            },
        )
        answer(job, proto.ACCEPTED, "")
    return job


def _store_ignored(fields: dict, doc: dict) -> ClipRequest:
    try:
        with transaction.atomic():
            job = ClipRequest.objects.create(**fields)
            log.record(
                AuditEvent.Action.SYSTEM,
                username="sync",
                target=f"rtcc request {fields['request']}"[:200],
                detail={
                    "alarm": "a clip request not signed by the trusted RTCC console key",
                    "_id": str(doc.get("_id", ""))[:300],
                    "box": str(doc.get("box", ""))[:100],
                    "signed_by": str((doc.get("sig") or {}).get("key", ""))[:100],
                },
            )
    except IntegrityError:
        return ClipRequest.objects.get(request=fields["request"])
    logger.warning("ignored a clip request not signed by the trusted console: %s", job.request)
    return job


def check(job: ClipRequest, doc: dict, now: datetime) -> None:
    """Refused(why) for a request the box will not satisfy, whoever signed it."""
    start, end = doc.get("start"), doc.get("end")
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        raise Refused("The request has no valid window (start and end must be dates).")
    if end <= start:
        raise Refused("The window ends before it starts.")
    longest = timedelta(minutes=settings.RTCC_CLIP_MAX_MINUTES)
    if end - start > longest:
        raise Refused(
            f"The window is {(end - start).total_seconds() / 60:.0f} minutes long; this box "
            f"sends at most {settings.RTCC_CLIP_MAX_MINUTES} (CRIMEBOX_RTCC_CLIP_MAX_MINUTES)."
        )
    if start > now + FUTURE_SLACK:
        raise Refused("The window starts in the future.")
    try:
        clean_case_number(doc.get("case_number"))
        clean_reason(doc.get("reason"))
        clean_text(doc.get("user"), "requesting user", 150)
    except ValidationError as e:
        raise Refused(e.messages[0]) from None
    if not Camera.objects.filter(name=job.camera_name).exists():
        raise Refused(f"This box has no camera named {job.camera_name!r}.")


def is_still_recording(job: ClipRequest, now: datetime) -> bool:
    """The window reaches footage whose segment has not closed (and so has no hash) yet."""
    assert job.end is not None
    return job.end > now or (
        Segment.objects.filter(camera__name=job.camera_name, start__lt=job.end).recording().exists()
    )


def cancel(doc: dict, key: Ed25519PublicKey) -> None:
    """A console-signed cancellation: an open job stops (an upload within one chunk)."""
    if not is_trusted(doc, key) or doc.get("box") != settings.BOX_ID:
        return
    ClipRequest.objects.open().filter(request=str(doc.get("request", ""))).update(
        cancel_requested=True
    )


def is_cancelled(job: ClipRequest, key: Ed25519PublicKey | None) -> bool:
    """Looked up by _id before every chunk: the console's stop button."""
    if job.cancel_requested:
        return True
    found = remote.find(proto.REQUESTS, {"_id": proto.cancel_doc_id(job.request)}, limit=1)
    if found and key is not None and is_trusted(found[0], key):
        ClipRequest.objects.filter(pk=job.pk).update(cancel_requested=True)
        return True
    return False


def answer_doc(job: ClipRequest, state: str, reason: str, **fields: Any) -> dict:
    return documents.base(
        proto.ANSWER_KIND,
        f"{job.request}:{state}",
        request=job.request,
        state=state,
        reason=reason,
        user=job.user,
        camera=job.camera_name,
        case_number=job.case_number,
        at=ms(timezone.now()),
        **fields,
    )


def answer(job: ClipRequest, state: str, reason: str, **fields: Any) -> None:
    """The box's answer, signed and sent through the outbox; a final one closes the job."""
    final = {
        proto.REFUSED: ClipRequest.State.REFUSED,
        proto.FAILED: ClipRequest.State.FAILED,
        proto.CANCELLED: ClipRequest.State.CANCELLED,
        proto.UPLOADED: ClipRequest.State.UPLOADED,
    }.get(state)
    with transaction.atomic():
        add(answer_doc(job, state, reason, **fields))
        if final:
            ClipRequest.objects.filter(pk=job.pk).update(
                state=final, last_error=reason, finished_at=timezone.now(), claim=""
            )
    if state in (proto.REFUSED, proto.FAILED):
        logger.warning("RTCC request %s %s: %s", job.request, state, reason)
