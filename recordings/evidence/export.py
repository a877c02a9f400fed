"""Evidence export: the footage of a time window as one signed, self-verifying zip.

Clips are never re-encoded: they start on the keyframe at or before the window's start and
are the recorded fragments themselves (recordings.fmp4), or FFmpeg's stream copy of them for a
file that module does not handle. (`-ss` before a concat input does not seek in our
index-less fragmented-MP4 segments: it copied everything from the segment's start and hid it
behind an MP4 edit list; a 2-minute window gave 238 s of frames.)
One clip per contiguous run of footage: a gap inside the window ends a clip, and the manifest
says what every clip holds and why the gap is there.
The package format is in docs/evidence.md.
"""

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

import crimebox
from audit import log
from audit.models import AuditEvent
from cameras import clock as camera_clock
from cameras.models import Camera
from cameras.provenance import provenance
from cameras.ptz import manifest_moves
from crimebox import outbox
from crimebox.hashing import BackgroundSha256, sha256_stream
from crimebox.utc import utc_iso

from .. import ffmpeg, fmp4
from ..holds import place_hold
from ..index import sync_to_disk
from ..models import Export, Gap, LegalHold, Segment
from ..retention import free_floor
from ..validators import check_export_window
from . import jobs
from .hashing import CHAIN_FORMULA
from .recording import StillRecordingError, as_recorded, prefix_of, recorded_so_far
from .signing import ensure_signing_key

logger = logging.getLogger(__name__)
# v2: SHA256SUMS lists manifest.json and manifest.sig and is itself signed (SHA256SUMS.sig);
# the manifest's `files` no longer lists SHA256SUMS (it is written after the manifest).
FORMAT_VERSION = "crimebox-evidence-v2"
SUMS, SUMS_SIG = "SHA256SUMS", "SHA256SUMS.sig"
SIGNED = ("manifest.json", "manifest.sig")
CONTIGUOUS = timedelta(seconds=0.5)  # closer than this, two segments are one run


class ExportError(ValueError):
    """Bad export input; the message is for the user."""


@dataclass
class Piece:
    camera: Camera
    segments: list[Segment] = field(default_factory=list)

    def window(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        return max(start, self.segments[0].start), min(end, self.segments[-1].end)


def plan(cameras: list[Camera], start: datetime, end: datetime) -> list[Piece]:
    """The contiguous runs of footage to cut, or ExportError saying why there is nothing."""
    try:
        check_export_window(start, end)
    except ValidationError as e:
        raise ExportError(e.messages[0]) from None
    if not cameras:
        raise ExportError("Choose at least one camera.")
    pieces = []
    for camera in cameras:
        segments = list(
            Segment.objects.filter(camera=camera).overlapping(start, end).order_by("start")
        )
        on_disk = [s for s in segments if s.is_on_disk and s.status != Segment.Status.CORRUPT]
        on_disk = sorted(on_disk + recording_in(camera, start, end), key=lambda s: s.start)
        for segment in on_disk:
            if (
                pieces
                and pieces[-1].camera == camera
                and segment.start - pieces[-1].segments[-1].end < CONTIGUOUS
            ):
                pieces[-1].segments.append(segment)
            else:
                pieces.append(Piece(camera, [segment]))
    if not pieces:
        gone = (
            Segment.objects.filter(camera__in=cameras)
            .overlapping(start, end)
            .exclude(status__in=Segment.ON_DISK)
        )
        if gone.exists():
            raise ExportError(
                "The footage of this window is no longer on the box (deleted by retention or "
                f"missing): {', '.join(sorted({s.get_status_display() for s in gone}))}."
            )
        raise ExportError("There is no footage from the chosen camera(s) in this window.")
    return pieces


def recording_in(camera: Camera, start: datetime, end: datetime) -> list[Segment]:
    """The segment being recorded, as far as its file holds complete fragments, if that
    reaches into the window (recording.py)."""
    found = []
    for segment in Segment.objects.filter(camera=camera, start__lt=end).recording():
        try:
            recorded = recorded_so_far(segment)
        except StillRecordingError as e:
            raise ExportError(str(e)) from None
        if recorded is not None and recorded.end > start:
            found.append(as_recorded(segment, recorded))
    return found


def cut_clip(piece: Piece, start: datetime, end: datetime, work: Path, sink) -> dict:
    """Write the window of one run into `sink`, block by block; its manifest entry.

    The clip starts on the keyframe at or before the window's start (stream copy cannot start
    elsewhere) and holds nothing earlier: the manifest states that pre-roll and exactly the
    interval the file holds. The recorded fragments are copied as they are (recordings.fmp4);
    a file that module does not handle is cut by FFmpeg's stream copy instead.
    """
    clip_start, clip_end = piece.window(start, end)
    used = [s for s in piece.segments if s.end > clip_start] or piece.segments[-1:]
    first = used[0]
    offset = max((clip_start - first.start).total_seconds(), 0)
    until = (clip_end - first.start).total_seconds()
    size = 0
    with BackgroundSha256() as digest:

        def take(block: bytes) -> None:
            nonlocal size
            digest.update(block)
            size += len(block)
            sink(block)

        still_open = used[-1].is_recording
        try:
            spliced = fmp4.splice(
                [s.abs_path for s in used], offset, until, take, last_open=still_open
            )
        except fmp4.Unsupported as e:
            if still_open:  # FFmpeg would read past the last complete fragment
                raise ExportError(
                    f"The footage of {piece.camera} still being recorded cannot be cut before "
                    f"its segment closes: {e}"
                ) from None
            key, how = ffmpeg_copy(used, offset, until, work, take)
            how["fragment_copy_refused"] = str(e)
        else:
            key = spliced.start
            by_path = {s.abs_path: s.pk for s in used}
            how = {
                "method": "fragment copy",
                "source_ranges": [
                    {"segment": by_path[path], "first_byte": a, "end_byte": b}
                    for path, a, b in spliced.ranges
                ],
            }
    held_from = first.start + timedelta(seconds=key)
    return {
        "sha256": digest.hexdigest(),
        "size": size,
        "camera": piece.camera.name,
        "start": utc_iso(held_from),
        "end": utc_iso(clip_end),
        "duration": round((clip_end - held_from).total_seconds(), 6),
        "window_start": utc_iso(clip_start),
        "pre_roll": round((clip_start - held_from).total_seconds(), 6),
        "codec": first.codec,
        "width": first.width,
        "height": first.height,
        "fps": first.fps,
        **how,
        "source_segments": [s.pk for s in used],
    }


def ffmpeg_copy(
    used: list[Segment], offset: float, until: float, work: Path, take
) -> tuple[float, dict]:
    """The clip by FFmpeg's stream copy: (its first keyframe, s into the first segment; how)."""
    key = ffmpeg.keyframe_at_or_before(used[0].abs_path, offset) if offset > 0 else 0.0
    listing = work / "clip.ffconcat"
    listing.write_text(ffmpeg.concat_listing([s.abs_path for s in used], key))
    argv = ffmpeg.clip_argv(listing, until - key)
    try:
        ffmpeg.stream_stdout(argv, take, ffmpeg.clip_timeout(sum(s.size for s in used)))
    finally:
        listing.unlink(missing_ok=True)
    shown = [os.path.basename(a) if a.startswith(str(work)) else a for a in argv]
    return key, {"method": "ffmpeg stream copy", "ffmpeg_argv": shown}


def segment_entry(segment: Segment, prefix: dict | None = None) -> dict:
    prev = segment.prev_chain_hash()
    extra = {} if prefix is None else {"recorded_prefix": prefix, "path": segment.path}
    return {
        **extra,
        "id": segment.pk,
        "camera_id": segment.camera_id,
        "camera": segment.camera.name,
        "sequence": segment.sequence,
        "file": Path(segment.path).name,
        "sha256": segment.sha256,
        "size": segment.size,
        "start": utc_iso(segment.start),
        "end": utc_iso(segment.end),
        "status": segment.status,
        "prev_chain_hash": prev,
        "chain_hash": segment.chain_hash,
        "clock_synchronized": segment.clock_synced,
        "frames": segment.frames,
        # Where the media's duration, frame count and the wall clock disagree (timing.py).
        "media_warning": segment.media_warning,
        "note": segment.note,
    }


# The package's custody record: what happened to this footage and these cameras (held,
# released, copied out, exported, deleted, reconfigured), by whom and when. Not who merely
# looked at it, and no client addresses: those stay in the box's audit trail, which only
# auditors read (docs/evidence.md, "Custody data").
CUSTODY_ACTIONS = [
    AuditEvent.Action.DOWNLOAD,
    AuditEvent.Action.EXPORT,
    AuditEvent.Action.HOLD,
    AuditEvent.Action.RELEASE,
    AuditEvent.Action.CAMERA_CHANGE,
    AuditEvent.Action.RETENTION_DELETE,
    AuditEvent.Action.SYSTEM,
    AuditEvent.Action.PTZ,  # a moved camera records another scene
]


def audit_entries(segments: list[Segment], cameras: list[Camera]) -> list[dict]:
    targets = [f"segment {s.pk}" for s in segments]
    holds = LegalHold.objects.filter(camera__in=cameras)
    targets += [f"hold {pk}" for pk in holds.values_list("pk", flat=True)]
    targets += [f"camera {c.pk}" for c in cameras]  # provenance: re-probes, setting changes
    events = AuditEvent.objects.filter(Q(target__in=targets), action__in=CUSTODY_ACTIONS).order_by(
        "sequence"
    )
    return [
        {
            "sequence": e.sequence,
            "at": utc_iso(e.at),
            "user": e.username,
            "action": e.action,
            "camera": e.camera_name,
            "target": e.target,
            "detail": e.detail,
            "hash": e.hash,
        }
        for e in events
    ]


def check_space(pieces: list[Piece], out_dir: Path, include_originals: bool) -> None:
    """An export never takes the space recording needs: the package (at most the source bytes,
    twice with originals) must fit above retention's free-space floor."""
    sources = sum(s.size for p in pieces for s in p.segments)
    need = sources * (2 if include_originals else 1)
    usage = shutil.disk_usage(out_dir)
    shares_disk = out_dir.stat().st_dev == Path(settings.RECORDINGS_DIR).stat().st_dev
    room = usage.free - (free_floor(usage.total) if shares_disk else 0)
    if need > room:
        raise ExportError(
            f"Not enough free space for this export: it needs up to {need / 1e9:.2f} GB and "
            f"{max(room, 0) / 1e9:.2f} GB are free above the space kept for recording. Export "
            "a shorter window, leave out the originals, or free space."
        )


class _HashingFile:
    """A write-only file that hashes what goes through it. It cannot seek, so zipfile writes
    each member's sizes after its data instead of seeking back: the package's SHA-256 is
    known when it is written, without reading it again."""

    def __init__(self, f, digest: BackgroundSha256, writeback: "Writeback"):
        self.f, self.digest, self.writeback, self.size = f, digest, writeback, 0

    def write(self, data) -> int:
        data = bytes(data)  # the hashing thread reads it later: never a reused buffer
        self.f.write(data)
        self.digest.update(data)
        self.size += len(data)
        self.writeback.wrote(self.size)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.f.flush()


class Writeback:
    """Starts the disk writing a file while it is still being written, every STEP bytes
    (posix_fadvise DONTNEED: Linux begins writeback of the range without waiting, and drops
    the pages already written). The disk works while the export hashes, the final fsync
    finds little left, and an export never fills the page cache with dirty pages that would
    stall the recorder's own writes (a Pi has 1-8 GB of RAM, an export can be gigabytes)."""

    STEP = 16 << 20

    def __init__(self, f):
        self.f, self.asked = f, 0

    def wrote(self, size: int) -> None:
        if size - self.asked >= self.STEP:
            self.f.flush()
            with contextlib.suppress(OSError, AttributeError):  # the final fsync reports
                os.posix_fadvise(self.f.fileno(), 0, size, os.POSIX_FADV_DONTNEED)
            self.asked = size


def _add_streamed(z: zipfile.ZipFile, source: Path, arcname: str, size: int) -> str:
    """Copy the first `size` bytes of a file into the zip in blocks (all of a closed segment;
    the recorded prefix of an open one); returns the SHA-256 of exactly the bytes written."""
    with source.open("rb") as src, z.open(arcname, "w", force_zip64=True) as dst:
        return sha256_stream(_Limited(src, size), copy_to=dst)


class _Limited:
    def __init__(self, f, left: int):
        self.f, self.left = f, left

    def read(self, n: int) -> bytes:
        block = self.f.read(min(n, self.left))
        self.left -= len(block)
        return block


@dataclass
class Package:
    path: Path
    sha256: str
    size: int
    manifest_sha256: str


def verify_text(export: Export, key, exported_at: str) -> bytes:
    return render_to_string(
        "recordings/evidence/VERIFY.txt",
        {
            "fingerprint": key.fingerprint,
            "case": export.case_number,
            "box_id": settings.BOX_ID,
            "exported_at": exported_at,
            "exporter": exporter_name(export),
            "version": crimebox.__version__,
        },
    ).encode()


def exporter_name(export: Export) -> str:
    return export.requested_by.get_username() if export.requested_by else "cli"


def signed_sums(files: dict[str, str], text: dict[str, bytes], key) -> dict[str, bytes]:
    """SHA256SUMS, listing every file of the package but itself and its signature (the same
    hashes as the manifest's `files`, plus manifest.json and manifest.sig), and its Ed25519
    signature: what `sha256sum -c` reads is signed, so a stock-tool check cannot be fooled
    by a regenerated SHA256SUMS."""
    listed = files | {n: hashlib.sha256(text[n]).hexdigest() for n in SIGNED}
    sums = "".join(f"{h}  {n}\n" for n, h in sorted(listed.items())).encode()
    return {SUMS: sums, SUMS_SIG: key.sign(sums)}


def write_package(export: Export, pieces: list[Piece], out_dir: Path, progress=None) -> Package:
    """Cut, describe, sign and zip in one pass; nothing is left behind on failure.

    Clips stream from FFmpeg and originals from the recordings straight into the zip, hashed
    as they are written; the zip itself is hashed as it is written too.
    """
    key = ensure_signing_key()
    out_dir.mkdir(parents=True, exist_ok=True)
    check_space(pieces, out_dir, export.include_originals)
    cameras = list(dict.fromkeys(p.camera for p in pieces))
    segments = [s for p in pieces for s in p.segments]
    stem = f"evidence-{_safe(export.case_number)}-{export.start:%Y%m%dT%H%M%SZ}-{export.pk}"
    exported_at = utc_iso(timezone.now())
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=f".export-{export.pk}-") as tmp:
        work = Path(tmp)
        # Removed by jobs.reset_if_dead if this process dies before the folder is.
        Export.objects.filter(pk=export.pk).update(work_dir=tmp)
        partial = work / f"{stem}.zip"
        with partial.open("wb") as raw, BackgroundSha256() as package_digest:
            out = _HashingFile(raw, package_digest, Writeback(raw))
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
                clips, files = [], {}
                for i, piece in enumerate(pieces, start=1):
                    name = "clip.mp4" if len(pieces) == 1 else f"clip-{piece.camera.slug}-{i}.mp4"
                    with z.open(f"{stem}/{name}", "w", force_zip64=True) as dst:
                        clip = {
                            "file": name,
                            **cut_clip(piece, export.start, export.end, work, dst.write),
                        }
                    clips.append(clip)
                    files[name] = clip["sha256"]
                    if progress:
                        progress(int(80 * i / len(pieces)))
                prefixes = {s.pk: prefix_of(s.abs_path, s.size) for s in segments if s.is_recording}
                if export.include_originals:
                    for s in segments:
                        name = f"originals/{s.camera.slug}-{Path(s.path).name}"
                        if s.is_recording:  # the bytes exported, named as not the whole file
                            name += ".part"
                        files[name] = _add_streamed(z, s.abs_path, f"{stem}/{name}", s.size)
                text = {
                    "box_public_key.pem": key.public_pem,
                    "VERIFY.txt": verify_text(export, key, exported_at),
                }
                for name, content in text.items():
                    files[name] = hashlib.sha256(content).hexdigest()
                manifest = build_manifest(
                    export, clips, segments, cameras, files, key, exported_at, prefixes
                )
                data = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode() + b"\n"
                text |= {"manifest.json": data, "manifest.sig": key.sign(data)}
                text |= signed_sums(files, text, key)
                for name, content in text.items():
                    z.writestr(f"{stem}/{name}", content)
        final = out_dir / partial.name
        os.replace(partial, final)
    # On the disk before the export is marked done: a power cut must not leave a package
    # whose hash the box has recorded but whose bytes were still in the page cache.
    sync_to_disk(final)
    return Package(final, package_digest.hexdigest(), out.size, hashlib.sha256(data).hexdigest())


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:40] or "case"


def build_manifest(export, clips, segments, cameras, files, key, exported_at, prefixes) -> dict:
    start, end = export.start, export.end
    gaps = Gap.objects.filter(camera__in=cameras).overlapping(start, end).select_related("camera")
    return {
        "format": FORMAT_VERSION,
        "box_id": settings.BOX_ID,
        "software": f"crimebox {crimebox.__version__}",
        "signing_key_fingerprint": key.fingerprint,
        "signature": "manifest.sig: raw Ed25519 signature of the exact bytes of this file",
        "chain_formula": CHAIN_FORMULA,
        "case_number": export.case_number,
        "reason": export.reason,
        "exporter": exporter_name(export),
        "exported_at": exported_at,
        "requested_window": {"start": utc_iso(start), "end": utc_iso(end)},
        "ffmpeg_version": ffmpeg.version(),
        "cameras": [provenance(c) for c in cameras],  # as in the replicated documents
        "camera_clocks": camera_clock.manifest_entries(cameras, start, end),
        "camera_moves": manifest_moves(cameras, start, end),
        "clips": clips,
        "source_segments": [segment_entry(s, prefixes.get(s.pk)) for s in segments],
        "gaps": [
            {
                "camera": g.camera.name,
                "start": utc_iso(g.start),
                "end": utc_iso(g.end) if g.end else None,
                "cause": g.cause,
                "cause_text": g.get_cause_display(),
                "detail": g.detail,
            }
            for g in gaps
        ],
        "files": files,
        "audit_events": audit_entries(segments, cameras),
    }


def run_export(export_id: int, out_dir: Path | None = None) -> str:
    """Django-Q task (and export_clip's body): build the package of one Export row.

    Any failure ends in FAILED with the reason and nothing left behind (retryable:
    jobs.retry_export); a worker killed meanwhile is noticed by jobs.reset_if_dead.
    """
    jobs.reset_if_dead(export_id)  # the task delivered again after its worker died
    if not jobs.claim(export_id):
        return "already taken"
    export = Export.objects.select_related("requested_by").get(pk=export_id)
    out_dir = Path(out_dir or settings.EXPORTS_DIR)
    package = None
    try:
        pieces = plan(list(export.cameras.all()), export.start, export.end)
        package = write_package(
            export,
            pieces,
            out_dir,
            progress=lambda p: Export.objects.filter(pk=export_id).update(progress=p),
        )
        finish(export, pieces, package, out_dir)
    except Exception as e:
        if package is not None:  # built, but not recorded as done: not offered
            package.path.unlink(missing_ok=True)
        known = isinstance(e, (ExportError, ffmpeg.FFmpegError, OSError))
        reason = str(e) if known else f"{type(e).__name__}: {e}"
        jobs.fail(export_id, reason)
        logger.error("export %d failed: %s", export_id, reason, exc_info=not known)
        return f"failed: {reason}"
    return str(package.path)


def finish(export: Export, pieces: list[Piece], package: Package, out_dir: Path) -> None:
    """Holds, DONE, the replicated fact and the audit entry in one transaction: a crash
    leaves all of them or none, never a finished export without its audit entry."""
    path = package.path
    rel = path.name if out_dir == Path(settings.EXPORTS_DIR) else str(path)
    segments = [s for p in pieces for s in p.segments]
    with transaction.atomic():
        if export.hold_sources:
            for camera in dict.fromkeys(p.camera for p in pieces):
                place_hold(
                    camera,
                    export.start,
                    export.end,
                    f"evidence export {export.case_number}",
                    case_number=export.case_number,
                    user=export.requested_by,
                )
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.DONE,
            progress=100,
            path=rel,
            sha256=package.sha256,
            size=package.size,
            finished_at=timezone.now(),
            worker="",
            work_dir="",
        )
        export.refresh_from_db()
        outbox.report(
            outbox.EXPORT,
            export,
            manifest_sha256=package.manifest_sha256,
            fingerprint=ensure_signing_key().fingerprint,
            # a segment still being recorded is replicated, chained, when it closes
            segments=[f"{s.camera_id}:{s.sequence}" for s in segments if s.sequence is not None],
        )
        log.record(
            AuditEvent.Action.EXPORT,
            user=export.requested_by,
            username=None if export.requested_by else "cli",
            target=f"export {export.pk}",
            detail={
                "case": export.case_number,
                "reason": export.reason,
                "start": export.start,
                "end": export.end,
                "package": path.name,
                "cameras": [c.name for c in export.cameras.all()],
                "segments": [s.pk for s in segments],
            },
        )
