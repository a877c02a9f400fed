"""Clips on request, the console's half: sign and insert requests, follow the box's answers.

The console's own Ed25519 key (KEYS_DIR/console_signing_key.pem, made on first use) signs every
request and cancellation; a box acts only on requests signed by the key it was given
(`rtcc_console_key` prints it for the box's CRIMEBOX_RTCC_CONSOLE_KEY_FILE). The box answers in
`retrievals`, signed by its own key: the console believes only answers signed by the box's
ENROLLED key. `tick()` follows every open job; rtcc/retrieval_verify.py verifies a package.
"""

import logging
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from crimebox import retrieval as proto
from crimebox.alternates import base_id
from crimebox.keys import SigningKey, load_or_create, public_key_from_pem
from crimebox.signature import verify

from . import retrieval_mongo as mongo
from .models import Box, Camera, ClipJob

logger = logging.getLogger(__name__)

KEY_NAME = "console_signing_key.pem"
CASE_MAX, REASON_MAX = 100, 2000
BAD_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


class RequestError(ValueError):
    """A request the console will not send; the message is for the person asking."""


def console_key() -> SigningKey:
    return load_or_create(Path(settings.KEYS_DIR) / KEY_NAME)


def _text(value: str, what: str, longest: int, *, multiline: bool = False) -> str:
    """The box checks the same (recordings/validators.py): say it here, before sending."""
    text = (value or "").replace("\r\n", "\n").strip()
    if not text:
        raise RequestError(f"The {what} must not be empty.")
    for c in text:
        if not (c == "\n" and multiline) and unicodedata.category(c) in BAD_CATEGORIES:
            raise RequestError(f"The {what} contains a control character (U+{ord(c):04X}).")
    if len(text) > longest:
        raise RequestError(f"The {what} is {len(text)} characters long; at most {longest}.")
    return text


def check(box_id: str, camera: str, start: datetime, end: datetime, now: datetime) -> Box:
    box = Box.objects.filter(box_id=box_id).first()
    if box is None:
        raise RequestError(f"No box {box_id!r} has written to the ledger.")
    if box.enrolment != Box.Enrolment.ENROLLED:
        raise RequestError(f"Box {box_id} is not enrolled: its package could not be verified.")
    if not Camera.objects.filter(box=box, name=camera).exists():
        raise RequestError(f"Box {box_id} has no camera named {camera!r}.")
    if end <= start:
        raise RequestError("The end of the window must be after its start.")
    if start >= now:
        raise RequestError("The window starts in the future.")
    longest = timedelta(minutes=settings.RTCC_CLIP_MAX_MINUTES)
    if end - start > longest:
        raise RequestError(
            f"The window is longer than {settings.RTCC_CLIP_MAX_MINUTES} minutes "
            "(CRIMEBOX_RTCC_CLIP_MAX_MINUTES); ask for several shorter clips."
        )
    return box


def request_clip(
    *,
    box_id: str,
    camera: str,
    start: datetime,
    end: datetime,
    case_number: str,
    reason: str,
    user: str,
    priority: int = 0,
    now: datetime | None = None,
    http_request: HttpRequest | None = None,
) -> ClipJob:
    """Check, sign, insert (link down: RetrievalLinkError, nothing stored) and record a job."""
    now = now or timezone.now()
    case_number = _text(case_number, "case number", CASE_MAX)
    reason = _text(reason, "reason", REASON_MAX, multiline=True)
    user = _text(user, "user", 150)
    check(box_id, camera, start, end, now)
    request = proto.new_request_id()
    doc = proto.request_doc(
        console_key(),
        request=request,
        box=box_id,
        camera=camera,
        start=start,
        end=end,
        case_number=case_number,
        reason=reason,
        user=user,
        priority=priority,
        created_at=now,
    )
    mongo.insert_request(doc)
    job = ClipJob.objects.create(
        request=request,
        box_id=box_id,
        camera=camera,
        start=doc["start"],
        end=doc["end"],
        case_number=case_number,
        reason=reason,
        user=user,
        priority=priority,
        created_at=doc["created_at"],
    )
    _audit("clip requested", job, user, http_request)
    return job


def cancel(
    job: ClipJob, user: str, now: datetime | None = None, http_request: HttpRequest | None = None
) -> None:
    """The stop button: a signed cancellation the box finds before its next chunk."""
    if job.state not in ClipJob.OPEN:
        raise RequestError(
            f"The job is already finished ({job.get_state_display().lower()}): "
            "there is nothing to cancel."
        )
    now = now or timezone.now()
    doc = proto.cancel_doc(
        console_key(), request=job.request, box=job.box_id, user=user, created_at=now
    )
    mongo.insert_request(doc)
    ClipJob.objects.filter(pk=job.pk).update(cancelled_by=user)
    _audit("clip cancelled", job, user, http_request)


def box_key(box_id: str) -> Ed25519PublicKey | None:
    box = Box.objects.filter(box_id=box_id, enrolment=Box.Enrolment.ENROLLED).first()
    if box is None or not box.public_key_pem:
        return None
    return public_key_from_pem(box.public_key_pem)


def trusted_answers(job: ClipJob, key: Ed25519PublicKey | None) -> dict[str, dict]:
    """The box's answers to this request signed by its enrolled key, by state. An answer may
    stand under an alternate `_id` (`<_id>~1..~3`): the box puts it there when another login
    took its `_id` first, and that planted document is not signed by the key."""
    found = {}
    for doc in mongo.answers(job.request):
        expected = proto.answer_doc_id(job.box_id, job.request, str(doc.get("state")))
        if key is not None and base_id(str(doc.get("_id"))) == expected and verify(doc, key):
            found[str(doc["state"])] = doc
    return found


def refresh(job: ClipJob, now: datetime | None = None) -> ClipJob:
    """Follow one open job: the box's answers, the chunks so far; verify once uploaded."""
    from .retrieval_verify import verify_and_store

    now = now or timezone.now()
    answers = trusted_answers(job, box_key(job.box_id))
    for state, to in [
        (proto.REFUSED, ClipJob.State.REFUSED),
        (proto.FAILED, ClipJob.State.FAILED),
        (proto.CANCELLED, ClipJob.State.CANCELLED),
    ]:
        if state in answers:
            return _finish(job, to, box_reason=str(answers[state].get("reason", ""))[:2000])
    if proto.UPLOADED in answers:
        return verify_and_store(job, answers[proto.UPLOADED])
    started = answers.get(proto.UPLOADING)
    if started is not None:
        _progress(job, started, now)
    elif proto.ACCEPTED in answers and job.state == ClipJob.State.QUEUED:
        ClipJob.objects.filter(pk=job.pk).update(state=ClipJob.State.BUILDING)
    job.refresh_from_db()
    return job


def _progress(job: ClipJob, started: dict, now: datetime) -> None:
    count, size = mongo.chunk_progress(proto.package_id(job.box_id, job.request))
    fields: dict[str, object] = {
        "state": ClipJob.State.UPLOADING,
        "chunks_total": int(started.get("chunks") or 0),
        "package_size": int(started.get("size") or 0),
    }
    if count != job.chunks_received:
        fields |= {"chunks_received": count, "bytes_received": size, "progress_at": now}
        if job.first_chunk_at is None:
            fields["first_chunk_at"] = now
    ClipJob.objects.filter(pk=job.pk).update(**fields)


def _finish(job: ClipJob, state: str, **fields: object) -> ClipJob:
    ClipJob.objects.filter(pk=job.pk).update(state=state, finished_at=timezone.now(), **fields)
    job.refresh_from_db()
    _audit(f"clip {job.get_state_display().lower()}", job, "rtcc")
    return job


def tick(now: datetime | None = None) -> int:
    """One pass over the open jobs (the `rtcc_retrieve` loop); how many were followed. The
    ledger unreachable ends the pass with RetrievalLinkError (the loop backs off)."""
    n = 0
    for job in ClipJob.objects.open().order_by("created_at"):
        try:
            refresh(job, now)
        except mongo.RetrievalLinkError:
            raise
        except Exception:
            # One job's fault (a full disk, a store that refuses a write) must stop neither
            # the other jobs nor the loop: logged, and tried again next pass.
            logger.exception("clip job %s: this pass failed; tried again next pass", job.request)
        n += 1
    return n


def _audit(what: str, job: ClipJob, user: str, http_request: HttpRequest | None = None) -> None:
    """`http_request`, when a page asked: the entry also holds the user row and client IP."""
    from audit import log
    from audit.models import AuditEvent

    log.record(
        AuditEvent.Action.EXPORT if what == "clip requested" else AuditEvent.Action.SYSTEM,
        username=user,
        request=http_request,
        target=f"rtcc request {job.request}",
        detail={
            "event": what,
            "rtcc_request": job.request,
            "box": job.box_id,
            "camera": job.camera,
            "case": job.case_number,
            "start": job.start,
            "end": job.end,
            "state": job.state,
        },
    )
