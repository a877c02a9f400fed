"""Verifying an evidence package offline: pure file checks, no database, no box.

Checks the Ed25519 signature of manifest.json with the packaged public key, the key's
fingerprint against the manifest, every file's SHA-256, and, for the originals included, each
segment's chain link and the links between consecutive segments.
"""

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from crimebox.hashing import sha256_stream
from crimebox.keys import fingerprint_of

from .. import ffmpeg
from .hashing import segment_chain_hash


@dataclass
class Verification:
    fingerprint: str = ""
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _members(z: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Package members by their path inside the package folder."""
    out = {}
    for info in z.infolist():
        parts = PurePosixPath(info.filename).parts
        if info.is_dir() or len(parts) < 2 or ".." in parts:
            continue
        out[str(PurePosixPath(*parts[1:]))] = info
    return out


def _sha256(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    with z.open(info) as f:
        return sha256_stream(f)


def verify_package(path) -> Verification:
    """Every check that can be made; a damaged or forged package is a failure, never a crash."""
    result = Verification()
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        result.failures.append(f"not a readable zip: {e}")
        return result
    with z:
        try:
            _verify(z, result)
        except (zipfile.BadZipFile, OSError) as e:
            result.failures.append(f"the zip is damaged: {e}")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            result.failures.append(f"manifest.json: malformed ({type(e).__name__}: {e})")
    return result


def _verify(z: zipfile.ZipFile, result: Verification) -> None:
    members = _members(z)
    for name in ("manifest.json", "manifest.sig", "box_public_key.pem"):
        if name not in members:
            result.failures.append(f"{name} is missing")
    if result.failures:
        return
    data = z.read(members["manifest.json"])
    try:
        key = load_pem_public_key(z.read(members["box_public_key.pem"]))
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        result.failures.append(f"box_public_key.pem: not a readable public key ({e})")
        return
    if not isinstance(key, Ed25519PublicKey):
        result.failures.append("box_public_key.pem: not an Ed25519 key")
        return
    result.fingerprint = fingerprint_of(key)
    try:
        key.verify(z.read(members["manifest.sig"]), data)
        result.checked.append("signature of manifest.json")
    except InvalidSignature:
        result.failures.append(
            "manifest.json: signature does not verify (altered or signed by another key)"
        )
    try:
        manifest = json.loads(data)
    except ValueError as e:  # UnicodeDecodeError is one
        result.failures.append(f"manifest.json: not valid JSON ({e})")
        return
    if not isinstance(manifest, dict):
        result.failures.append("manifest.json: not a JSON object")
        return
    if manifest.get("signing_key_fingerprint") != result.fingerprint:
        result.failures.append("box_public_key.pem is not the key named in the manifest")
    files = manifest.get("files", {})
    for name in sorted(set(members) - set(files) - {"manifest.json", "manifest.sig"}):
        result.failures.append(f"{name}: not covered by the signed manifest")
    for name, expected in sorted(files.items()):
        if name not in members:
            result.failures.append(f"{name}: missing from the package")
        elif _sha256(z, members[name]) != expected:
            result.failures.append(f"{name}: SHA-256 does not match the manifest")
        else:
            result.checked.append(name)
    _check_originals(z, members, manifest, result)
    _check_clips(z, members, manifest, result)


def _check_clips(z, members, manifest, result: Verification) -> None:
    """Each clip holds exactly the interval the manifest states, nothing hidden before it by
    an edit list (ffprobe with -ignore_editlist 1)."""
    for clip in manifest.get("clips", []):
        name = clip["file"]
        if name not in members:
            continue  # already a failure
        tolerance = max(0.1, 2 / (clip.get("fps") or 25))
        with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
            with z.open(members[name]) as src:
                shutil.copyfileobj(src, tmp, 1 << 20)
            tmp.flush()
            try:
                first, after = ffmpeg.held_interval(tmp.name)
            except ffmpeg.FFmpegError as e:
                result.failures.append(f"{name}: cannot read its frames ({e})")
                continue
        held = after - first
        if abs(first) > tolerance or abs(held - clip["duration"]) > tolerance:
            result.failures.append(
                f"{name}: holds {held:.2f} s of frames from {first:.2f} s, the manifest states "
                f"{clip['duration']:.2f} s from {clip['start']}"
            )
        else:
            result.checked.append(f"interval of {name} ({held:.2f} s)")


def _check_originals(z, members, manifest, result: Verification) -> None:
    by_name = {f"originals/{_original_name(s)}": s for s in manifest.get("source_segments", [])}
    previous = {}
    for name, seg in sorted(
        by_name.items(), key=lambda kv: (kv[1]["camera_id"], kv[1]["sequence"])
    ):
        link = segment_chain_hash(
            camera_id=seg["camera_id"],
            sequence=seg["sequence"],
            prev=seg["prev_chain_hash"],
            sha256=seg["sha256"],
            start=_parse(seg["start"]),
            end=_parse(seg["end"]),
            size=seg["size"],
        )
        if link != seg["chain_hash"]:
            result.failures.append(
                f"segment {seg['id']} (#{seg['sequence']}): chain hash does not recompute"
            )
        prev = previous.get(seg["camera_id"])
        if (
            prev
            and prev["sequence"] + 1 == seg["sequence"]
            and prev["chain_hash"] != seg["prev_chain_hash"]
        ):
            result.failures.append(f"segment {seg['id']}: does not follow segment {prev['id']}")
        previous[seg["camera_id"]] = seg
        if name in members and _sha256(z, members[name]) != seg["sha256"]:
            result.failures.append(f"{name}: not the recorded segment (SHA-256 differs)")
        elif name in members:
            result.checked.append(f"chain of {name}")


def _original_name(seg: dict) -> str:
    return f"cam{seg['camera_id']:04d}-{seg['file']}"
