"""What a package says about itself: the manifest (clips, source segments with their chain,
gaps, cameras, clocks, moves, custody), VERIFY.txt and the signed SHA256SUMS. The package
format is in docs/evidence.md."""

import hashlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.template.loader import render_to_string

import crimebox
from audit.models import AuditEvent
from cameras import clock as camera_clock
from cameras.models import Camera
from cameras.provenance import provenance
from cameras.ptz import manifest_moves
from crimebox import ffrun
from crimebox.keys import SigningKey
from crimebox.utc import utc_iso

from ..models import Export, Gap, LegalHold, Segment
from .hashing import CHAIN_FORMULA

# v2: SHA256SUMS lists manifest.json and manifest.sig and is itself signed (SHA256SUMS.sig);
# the manifest's `files` no longer lists SHA256SUMS (it is written after the manifest).
FORMAT_VERSION = "crimebox-evidence-v2"


SUMS, SUMS_SIG = "SHA256SUMS", "SHA256SUMS.sig"


SIGNED = ("manifest.json", "manifest.sig")


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


def verify_text(export: Export, key: SigningKey, exported_at: str, folder: str) -> bytes:
    """VERIFY.txt for a package whose zip holds the one folder `folder`."""
    return render_to_string(
        "recordings/evidence/VERIFY.txt",
        {
            "folder": folder,
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


def signed_sums(files: dict[str, str], text: dict[str, bytes], key: SigningKey) -> dict[str, bytes]:
    """SHA256SUMS, listing every file of the package but itself and its signature (the same
    hashes as the manifest's `files`, plus manifest.json and manifest.sig), and its Ed25519
    signature: what `sha256sum -c` reads is signed, so a stock-tool check cannot be fooled
    by a regenerated SHA256SUMS."""
    listed = files | {n: hashlib.sha256(text[n]).hexdigest() for n in SIGNED}
    sums = "".join(f"{h}  {n}\n" for n, h in sorted(listed.items())).encode()
    return {SUMS: sums, SUMS_SIG: key.sign(sums)}


def build_manifest(
    export: Export,
    clips: list[dict[str, Any]],
    segments: list[Segment],
    cameras: list[Camera],
    files: dict[str, str],
    key: SigningKey,
    exported_at: str,
    prefixes: dict[int, dict[str, Any]],
) -> dict[str, Any]:
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
        "ffmpeg_version": ffrun.version(),
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
