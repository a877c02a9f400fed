"""Verifying an evidence package offline: pure file checks, no database, no box.

Checks that the zip holds only the package folder, the Ed25519 signatures of manifest.json and
SHA256SUMS with the packaged public key, the key's
fingerprint against the manifest, every file's SHA-256, and, for the originals included, each
segment's chain link and the links between consecutive segments.
"""

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from cameras.models import slug_of
from crimebox import ffprobe, ffrun
from crimebox.hashing import sha256_stream
from crimebox.keys import fingerprint_of
from crimebox.signature import verify_bytes

from .hashing import segment_chain_hash
from .recording import check_prefix

FORMAT_V1 = "crimebox-evidence-v1"  # SHA256SUMS unsigned, listed in the manifest's files
SUMS, SUMS_SIG = "SHA256SUMS", "SHA256SUMS.sig"


@dataclass
class Verification:
    fingerprint: str = ""
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recordings_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def package_members(z: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Package members by their path inside the package folder."""
    return _layout(z)[0]


def _package_folder(z: zipfile.ZipFile) -> str | None:
    """The one folder of the package: the one holding manifest.json."""
    for info in z.infolist():
        parts = info.filename.split("/")
        if len(parts) == 2 and parts[1] == "manifest.json" and parts[0] not in ("", ".", ".."):
            return parts[0]
    return None


def _layout(z: zipfile.ZipFile) -> tuple[dict[str, zipfile.ZipInfo], list[str]]:
    """(members by their path inside the package folder, every other member named with why).

    A zip member anywhere else (at the zip's root, in another folder, with `..`, `.`, an
    empty or absolute part, a backslash, or a second member of the same name) is not part of
    the package and fails verification: unzipping would put it beside or over the package's
    files.
    """
    folder = _package_folder(z)
    members: dict[str, zipfile.ZipInfo] = {}
    dirs, strays = [], []
    for info in z.infolist():
        name = info.filename
        parts = name.rstrip("/").split("/") if info.is_dir() else name.split("/")
        inside = (
            folder is not None
            and parts[0] == folder
            and "\\" not in name
            and all(p not in ("", ".", "..") for p in parts[1:])
        )
        if not inside:
            strays.append(f"{name}: outside the package folder {folder or '(none)'}/")
        elif info.is_dir():
            dirs.append("/".join(parts[1:]))
        elif "/".join(parts[1:]) in members:
            strays.append(f"{name}: in the zip twice")
        else:
            members["/".join(parts[1:])] = info
    for d in dirs:
        if d and not any(m.startswith(d + "/") for m in members):
            strays.append(f"{folder}/{d}/: a folder the manifest does not list")
    return members, strays


def _sha256(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    with z.open(info) as f:
        return sha256_stream(f)


def verify_package(path: str | Path, recordings_dir: Path | None = None) -> Verification:
    """Every check that can be made; a damaged or forged package is a failure, never a crash.

    `recordings_dir` (on the box): footage exported while it was still being recorded is
    checked against its file there, closed since (recording.py).
    """
    result = Verification(recordings_dir=recordings_dir)
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
    members, strays = _layout(z)
    result.failures += strays
    for name in ("manifest.json", "manifest.sig", "box_public_key.pem"):
        if name not in members:
            result.failures.append(f"{name} is missing")
    if not all(n in members for n in ("manifest.json", "manifest.sig", "box_public_key.pem")):
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
    if verify_bytes(data, z.read(members["manifest.sig"]), key):
        result.checked.append("signature of manifest.json")
    else:
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
    own = {"manifest.json", "manifest.sig"}
    if manifest.get("format") != FORMAT_V1:
        own |= {SUMS, SUMS_SIG}
        _check_sums(z, members, key, files, result)
    for name in sorted(set(members) - set(files) - own):
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
    _check_prefixes(manifest, result)


def _check_prefixes(manifest: dict, result: Verification) -> None:
    for seg in manifest.get("source_segments", []):
        if "recorded_prefix" not in seg:
            continue
        if result.recordings_dir is None:
            prefix = seg["recorded_prefix"]
            result.notes.append(
                f"{seg['camera']} {seg['file']} was still being recorded at export: its first "
                f"{prefix['end_byte']} bytes (SHA-256 {prefix['sha256']}) are to be checked "
                "against the closed segment (verify_evidence --recordings DIR on the box)"
            )
            continue
        ok, what = check_prefix(seg, result.recordings_dir)
        (result.checked if ok else result.failures).append(what)


def _check_sums(
    z: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    key: Ed25519PublicKey,
    files: dict[str, str],
    result: Verification,
) -> None:
    """SHA256SUMS (what `sha256sum -c` reads) is signed by the box key and lists exactly the
    manifest's files plus manifest.json and manifest.sig, with the same hashes."""
    if SUMS not in members or SUMS_SIG not in members:
        result.failures += [f"{n} is missing" for n in (SUMS, SUMS_SIG) if n not in members]
        return
    sums = z.read(members[SUMS])
    if verify_bytes(sums, z.read(members[SUMS_SIG]), key):
        result.checked.append(f"signature of {SUMS}")
    else:
        result.failures.append(
            f"{SUMS}: signature does not verify (altered or signed by another key)"
        )
    expected = dict(files) | {n: _sha256(z, members[n]) for n in ("manifest.json", "manifest.sig")}
    listed: dict[str, str] = {}
    for line in sums.decode(errors="replace").splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or name in listed:
            result.failures.append(f"{SUMS}: malformed line {line[:80]!r}")
            continue
        listed[name] = digest
    for name in sorted(set(listed) | set(expected)):
        if listed.get(name) != expected.get(name):
            result.failures.append(f"{SUMS}: {name} is not listed as in the signed manifest")


def _check_clips(
    z: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    manifest: dict[str, Any],
    result: Verification,
) -> None:
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
                first, after = ffprobe.held_interval(tmp.name)
            except ffrun.ToolMissing as e:  # the expert's machine, not the package
                result.notes.append(f"the clips' frames were not checked: {e}")
                return
            except ffrun.FFmpegError as e:
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


def _check_originals(
    z: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    manifest: dict[str, Any],
    result: Verification,
) -> None:
    sources = manifest.get("source_segments", [])
    for seg in sources:  # still being recorded at export: no hash, no chain yet
        if seg.get("sequence") is None:
            name = f"originals/{_original_name(seg)}.part"
            expected = seg["recorded_prefix"]["sha256"]
            if name in members and _sha256(z, members[name]) != expected:
                result.failures.append(f"{name}: not the recorded bytes (SHA-256 differs)")
    by_name = {
        f"originals/{_original_name(s)}": s for s in sources if s.get("sequence") is not None
    }
    previous: dict[int, dict[str, Any]] = {}
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
    return f"{slug_of(seg['camera_id'])}-{seg['file']}"
