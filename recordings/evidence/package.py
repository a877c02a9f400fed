"""The package on disk: clips and originals streamed into one zip, hashed as written, signed,
renamed into place only when whole, and on the disk before anyone is told it exists."""

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from django.utils import timezone

from crimebox.hashing import BackgroundSha256, sha256_stream
from crimebox.utc import utc_iso

from ..index import sync_to_disk
from ..models import Export
from .cut import cut_clip
from .manifest import build_manifest, signed_sums, verify_text
from .plan import Piece, check_space
from .recording import prefix_of
from .signing import ensure_signing_key


class _HashingFile:
    """A write-only file that hashes what goes through it. It cannot seek, so zipfile writes
    each member's sizes after its data instead of seeking back: the package's SHA-256 is
    known when it is written, without reading it again."""

    def __init__(self, f: BinaryIO, digest: BackgroundSha256, writeback: "Writeback") -> None:
        self.f, self.digest, self.writeback, self.size = f, digest, writeback, 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
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

    def __init__(self, f: BinaryIO) -> None:
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
    def __init__(self, f: BinaryIO, left: int) -> None:
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
    prefixes: dict[int, dict[str, Any]]  # segment id -> recorded_prefix of an open segment


def write_package(
    export: Export,
    pieces: list[Piece],
    out_dir: Path,
    progress: Callable[[int], object] | None = None,
) -> Package:
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
            # zipfile needs only write, tell and flush of a file it did not open (and never
            # closes it); the stubs ask for a whole binary file.
            with zipfile.ZipFile(
                cast(IO[bytes], out), "w", zipfile.ZIP_STORED, allowZip64=True
            ) as z:
                clips: list[dict[str, Any]] = []
                files: dict[str, str] = {}
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
                    "VERIFY.txt": verify_text(export, key, exported_at, stem),
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
    return Package(
        final, package_digest.hexdigest(), out.size, hashlib.sha256(data).hexdigest(), prefixes
    )


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:40] or "case"
