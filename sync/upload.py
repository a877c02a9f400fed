"""Clip requests from the RTCC, the box's work: build the package, upload it in chunks.

One job at a time per box (a claim with a lease, like the sender's); the package is built by
the box's own evidence export (same manifest, signature, VERIFY.txt, custody) and uploaded as
insert-only chunks, `{package, n}` unique, at most CRIMEBOX_RTCC_UPLOAD_KBPS, replication
documents first. After a cut the upload resumes from the chunks the datacenter already holds
(re-sending at most the one in flight); a box killed mid-build builds again (the interrupted
export is marked failed, custody says so), killed mid-upload resumes the same package.
"""

import hashlib
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from cameras.models import Camera
from crimebox import retrieval as proto
from crimebox.signature import from_body
from recordings.evidence.export import run_export
from recordings.evidence.plan import ExportError, plan
from recordings.models import Export

from . import remote
from .models import ClipRequest, OutboxItem
from .requests import answer, console_key, is_cancelled, is_still_recording, poll
from .sender import send_pending

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a claim older than this is a killed worker's
LINK_DOWN = "link down"  # a pass that ended so waits for the schedule (no hammering)


class Throttle:
    """Keeps the average rate of what passes through `wait` under `kbps` (0: no cap).

    Each chunk waits until the cap has room for its own bytes too, not only for those before
    it: otherwise the first chunk goes at once and the rate since the start is a chunk over the
    cap (twice the cap for a two-chunk package)."""

    def __init__(self, kbps: int):
        self.rate = kbps * 1000 / 8
        self.t0, self.sent = time.monotonic(), 0

    def wait(self, size: int) -> None:
        self.sent += size
        if self.rate > 0:
            due = self.t0 + self.sent / self.rate
            time.sleep(max(0.0, due - time.monotonic()))


def run(max_seconds: float = 240.0, now: datetime | None = None) -> str:
    """One pass (the Django-Q task's body): look for requests, then work on the next job."""
    now = now or timezone.now()
    try:
        poll(now)
    except remote.RemoteError as e:
        return f"{LINK_DOWN}: cannot look for requests: {e}"
    job = claim_next(now)
    if job is None:
        return "no clip request to work on"
    deadline = time.monotonic() + max_seconds
    try:
        return work_through_cuts(job, deadline, now)
    finally:
        ClipRequest.objects.filter(pk=job.pk, claim=job.claim).update(claim="", claimed_at=None)


def work_through_cuts(job: ClipRequest, deadline: float, now: datetime) -> str:
    """Work on the job; a dropped link is retried after 5 s, 10 s, 20 s, 30 s... while the
    pass has time (a cellular link is often back within seconds), then left to the schedule."""
    for attempt in range(1000):
        try:
            return work(job, deadline, now)
        except remote.RemoteError as e:
            ClipRequest.objects.filter(pk=job.pk).update(last_error=str(e)[:2000])
            logger.warning("RTCC request %s: link down, resuming later: %s", job.request, e)
            pause = min(5 * 2**attempt, 30)
            if time.monotonic() + pause + 5 > deadline:
                return f"{LINK_DOWN}: {e}"
            time.sleep(pause)
            ClipRequest.objects.filter(pk=job.pk).update(claimed_at=timezone.now())
            job.refresh_from_db()
    return LINK_DOWN


def has_work(now: datetime | None = None) -> bool:
    """Whether a job can make progress now (waiting jobs wait for the next schedule)."""
    return ClipRequest.objects.open().exclude(state=ClipRequest.State.WAITING).exists()


def claim_next(now: datetime) -> ClipRequest | None:
    """The next job, claimed by a conditional UPDATE; None while another worker holds one (one
    upload at a time per box). A job already building or uploading goes first."""
    expired = now - LEASE
    open_jobs = ClipRequest.objects.open()
    if open_jobs.exclude(claim="").filter(claimed_at__gte=expired).exists():
        return None
    in_progress = [ClipRequest.State.BUILDING, ClipRequest.State.UPLOADING]
    first = Case(When(state__in=in_progress, then=Value(0)), default=1, output_field=IntegerField())
    for job in open_jobs.annotate(first=first).order_by("first", "-priority", "created_at", "pk"):
        if job.state in (ClipRequest.State.RECEIVED, ClipRequest.State.WAITING):
            if not job.cancel_requested and is_still_recording(job, now):
                ClipRequest.objects.filter(pk=job.pk).update(state=ClipRequest.State.WAITING)
                continue
        token = uuid.uuid4().hex
        taken = (
            ClipRequest.objects.filter(pk=job.pk)
            .filter(Q(claim="") | Q(claimed_at__lt=expired))
            .update(claim=token, claimed_at=now)
        )
        if taken != 1:
            return None
        if job.claim and job.state == ClipRequest.State.UPLOADING:
            record_interrupted_upload(job)
        job.refresh_from_db()
        return job
    return None


def _audit_interrupted(job: ClipRequest, event: str, **detail: object) -> None:
    """A job its worker left half done (the box stopped), in the box's audit trail."""
    camera = Camera.objects.filter(name=job.camera_name).first()
    log.record(
        AuditEvent.Action.SYSTEM,
        username="sync",
        camera=camera,
        target=f"camera {camera.pk}" if camera else f"rtcc request {job.request}",
        detail={"event": event, "rtcc_request": job.request, "export": job.export_id, **detail},
    )


def record_interrupted_upload(job: ClipRequest) -> None:
    """A job `uploading` under a lapsed claim: its worker was killed mid-upload. The audit trail
    says so; the upload resumes from the chunks the datacenter holds (same package)."""
    _audit_interrupted(
        job,
        "RTCC clip upload interrupted (box stopped); resuming the same package",
        chunks_done=job.chunks_done,
        claimed_at=job.claimed_at.isoformat() if job.claimed_at else None,
    )
    logger.warning("RTCC request %s: upload taken over from a stopped worker", job.request)


def work(job: ClipRequest, deadline: float, now: datetime) -> str:
    key = console_key()
    if job.state != ClipRequest.State.UPLOADING and is_cancelled(job, key):
        return finish_cancelled(job)
    if job.state == ClipRequest.State.BUILDING:
        recover_interrupted_build(job)
    if job.state in (ClipRequest.State.RECEIVED, ClipRequest.State.WAITING):
        build(job)
    if job.state == ClipRequest.State.UPLOADING:
        return upload(job, deadline)
    return job.get_state_display()


def build(job: ClipRequest) -> None:
    """The package, by the box's own evidence export; a refusal is answered."""
    camera = Camera.objects.filter(name=job.camera_name).first()
    if camera is None:
        answer(job, proto.REFUSED, f"This box has no camera named {job.camera_name!r}.")
        job.refresh_from_db()
        return
    assert job.start is not None and job.end is not None
    try:
        plan([camera], job.start, job.end)
    except ExportError as e:
        answer(job, proto.REFUSED, str(e))
        job.refresh_from_db()
        return
    with transaction.atomic():
        export = Export.objects.create(
            start=job.start,
            end=job.end,
            case_number=job.case_number,
            reason=from_body(job.doc).get("reason", ""),
            hold_sources=True,
        )
        export.cameras.set([camera])
        ClipRequest.objects.filter(pk=job.pk).update(
            state=ClipRequest.State.BUILDING, export=export
        )
    run_export(export.pk)
    export.refresh_from_db()
    if export.status != Export.Status.DONE:
        answer(job, proto.FAILED, export.error or "the package could not be built")
    else:
        start_upload(job, export)
    job.refresh_from_db()


def start_upload(job: ClipRequest, export: Export) -> None:
    """The package is built: say how big it is (the console's progress and ETA)."""
    total = proto.chunk_count(export.size or 0, chunk_size())
    with transaction.atomic():
        ClipRequest.objects.filter(pk=job.pk).update(
            state=ClipRequest.State.UPLOADING, chunks_total=total
        )
        answer(
            job,
            proto.UPLOADING,
            "",
            package=proto.package_id(settings.BOX_ID, job.request),
            package_sha256=export.sha256,
            size=export.size,
            chunks=total,
            chunk_size=chunk_size(),
        )


def recover_interrupted_build(job: ClipRequest) -> None:
    """A job left `building` by a killed worker: a finished export is uploaded; an unfinished
    one is marked failed (custody and the audit trail say so) and the package built again."""
    export = job.export
    if export is not None and export.status == Export.Status.DONE:
        start_upload(job, export)
        job.refresh_from_db()
        return
    with transaction.atomic():
        if export is not None and export.status in (Export.Status.QUEUED, Export.Status.RUNNING):
            Export.objects.filter(pk=export.pk).update(
                status=Export.Status.FAILED,
                error="interrupted: the box stopped while building it; built again",
                finished_at=timezone.now(),
            )
        _audit_interrupted(
            job,
            "RTCC clip package build interrupted (box stopped); building again",
            export=export.pk if export else None,
        )
        ClipRequest.objects.filter(pk=job.pk).update(state=ClipRequest.State.RECEIVED, export=None)
    job.refresh_from_db()


def chunk_size() -> int:
    return max(settings.RTCC_CHUNK_KB, 16) * 1024


def upload(job: ClipRequest, deadline: float) -> str:
    """Send the chunks the datacenter does not hold yet, then the closing answer."""
    export = job.export
    assert export is not None and export.size is not None
    size, step = export.size, chunk_size()
    total = proto.chunk_count(size, step)
    package = proto.package_id(settings.BOX_ID, job.request)
    held = {
        d["n"]: d.get("sha256")
        for d in remote.find(proto.CHUNKS, {"package": package}, projection={"n": 1, "sha256": 1})
    }
    if job.bytes_sent:
        ClipRequest.objects.filter(pk=job.pk).update(resumes=F("resumes") + 1)
    key, throttle = console_key(), Throttle(settings.RTCC_UPLOAD_KBPS)
    with export.abs_path.open("rb") as f:
        for n in range(total):
            data = read_chunk(f, n, step)
            if n in held:
                if held[n] != hashlib.sha256(data).hexdigest():
                    return fail(job, f"chunk {n} at the datacenter is not this package's bytes")
                continue
            if time.monotonic() > deadline:
                return f"paused at chunk {n} of {total}"
            if is_cancelled(job, key):
                return finish_cancelled(job)
            replication_first()
            throttle.wait(len(data))
            problem = send_chunk(job, n, data)
            if problem:
                return fail(job, problem)
            ClipRequest.objects.filter(pk=job.pk).update(
                chunks_done=n + 1, claimed_at=timezone.now()
            )
    return close(job, export, package, total, step)


def read_chunk(f: BinaryIO, n: int, step: int) -> bytes:
    f.seek(n * step)
    return f.read(step)


def send_chunk(job: ClipRequest, n: int, data: bytes) -> str:
    """Insert one chunk; '' when the datacenter holds it (now or from a pass that died)."""
    doc = proto.chunk_doc(settings.BOX_ID, job.request, n, data, at=timezone.now())
    ClipRequest.objects.filter(pk=job.pk).update(bytes_sent=F("bytes_sent") + len(data))
    result = remote.insert(proto.CHUNKS, [doc])
    if result.failed:
        raise remote.RemoteError(next(iter(result.failed.values())))
    if result.duplicates:
        stored = remote.find(proto.CHUNKS, {"package": doc["package"], "n": n}, limit=1)
        if not stored or stored[0].get("sha256") != doc["sha256"]:
            return f"chunk {n} at the datacenter is not this package's bytes"
    return ""


def replication_first() -> None:
    """Segment hashes and audit entries go before footage bytes."""
    if OutboxItem.objects.pending().exists():
        send_pending(max_seconds=30)


def close(job: ClipRequest, export: Export, package: str, total: int, step: int) -> str:
    answer(
        job,
        proto.UPLOADED,
        "",
        package=package,
        file=export.abs_path.name,
        package_sha256=export.sha256,
        size=export.size,
        chunks=total,
        chunk_size=step,
        export=f"{settings.BOX_ID}:export:{export.pk}",
    )
    _audit(job, "RTCC clip package uploaded", export=export.pk, package_sha256=export.sha256)
    send_pending(max_seconds=30)
    logger.info("RTCC request %s: package uploaded (%d chunks)", job.request, total)
    return f"uploaded {total} chunk(s)"


def fail(job: ClipRequest, reason: str) -> str:
    answer(job, proto.FAILED, reason)
    _audit(job, "RTCC clip upload failed", reason=reason)
    return f"failed: {reason}"


def finish_cancelled(job: ClipRequest) -> str:
    answer(job, proto.CANCELLED, "cancelled at the RTCC")
    _audit(job, "RTCC clip request cancelled at the RTCC")
    return "cancelled"


def _audit(job: ClipRequest, event: str, **detail: object) -> None:
    camera = Camera.objects.filter(name=job.camera_name).first()
    log.record(
        AuditEvent.Action.SYSTEM,
        username=f"rtcc:{job.user}",
        camera=camera,
        target=f"rtcc request {job.request}",
        detail={"event": event, "rtcc_request": job.request, "rtcc_user": job.user, **detail},
    )
