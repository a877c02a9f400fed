"""Fragmented MP4 as the recorder writes it, and clips spliced from it byte for byte.

A recorded segment is `ftyp`, a `moov` without samples, then one `moof`+`mdat` pair per GOP
(`frag_keyframe`: every fragment starts on a keyframe; `default_base_moof`: each fragment's
data offsets count from its own `moof`), and an `mfra` index at the end. A clip of a window
is the first segment's `ftyp` and `moov` followed by the fragments the window needs, copied
from the recordings unchanged except for two numbers per fragment: its sequence number and
its decode time (so the clip's timeline starts at 0 and runs on across segments). The last
fragment is cut after the window's last frame. Nothing is decoded, re-encoded or remuxed: the
coded pictures in a clip are the recorded bytes, and the manifest says which.

Anything else (audio beside the video, B-frame composition offsets, an edit list, a file cut
short, segments whose codec settings differ) raises Unsupported: the export then falls back
to FFmpeg's stream copy, which handles every file FFmpeg can read, at about twice the cost.
"""

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

# tfhd flags
BASE_DATA_OFFSET = 0x000001
SAMPLE_DESCRIPTION_INDEX = 0x000002
DEFAULT_DURATION = 0x000008
DEFAULT_SIZE = 0x000010
DEFAULT_FLAGS = 0x000020
DEFAULT_BASE_IS_MOOF = 0x020000
# trun flags
DATA_OFFSET = 0x000001
FIRST_SAMPLE_FLAGS = 0x000004
SAMPLE_DURATION = 0x000100
SAMPLE_SIZE = 0x000200
SAMPLE_FLAGS = 0x000400
SAMPLE_CTO = 0x000800
PER_FRAGMENT = (DEFAULT_DURATION, DEFAULT_SIZE, DEFAULT_FLAGS)  # tfhd: the defaults of trex
PER_SAMPLE = (SAMPLE_DURATION, SAMPLE_SIZE, SAMPLE_FLAGS)  # trun: each sample's own
NON_SYNC = 0x00010000  # sample_is_non_sync_sample, in sample flags

SKIPPED = {b"free", b"skip", b"mfra", b"sidx", b"styp"}  # indexes of the source, padding
BLOCK = 4 << 20


class Unsupported(ValueError):
    """Not the simple fragmented MP4 this module splices: cut it with FFmpeg instead."""


@dataclass
class Fragment:
    offset: int  # of the moof in the file
    moof: bytes
    mdat_header: int  # 8, or 16 for a 64-bit size
    mdat_size: int  # payload bytes
    tfdt: int
    tfdt_at: int  # where the decode time's value sits in `moof`
    tfdt_version: int
    seq_at: int  # where mfhd's sequence number sits in `moof`
    trun_at: int  # where the trun box starts in `moof`
    tfhd: bytes
    trun_flags: int
    first_flags: int | None
    samples: list[tuple[int, int, int]]  # (duration, size, flags) per sample

    @property
    def duration(self) -> int:
        return sum(d for d, _, _ in self.samples)

    @property
    def end(self) -> int:
        """File offset after this fragment's mdat."""
        return self.offset + len(self.moof) + self.mdat_header + self.mdat_size


@dataclass
class Movie:
    path: Path
    ftyp: bytes
    moov: bytes
    timescale: int
    track_id: int
    stsd: bytes  # the codec settings: two segments splice only if theirs are equal
    trex: tuple[int, int, int]  # default sample duration, size, flags of its fragments
    fragments: list[Fragment] = field(default_factory=list)
    complete_end: int = 0  # file offset after the last complete fragment

    @property
    def seconds(self) -> float:
        """Media time from the first fragment to the end of the last."""
        last = self.fragments[-1]
        return (last.tfdt + last.duration - self.fragments[0].tfdt) / self.timescale


def _boxes(
    data: bytes, start: int = 0, end: int | None = None
) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, offset of the box, offset of its body, offset after it) of each box in data."""
    end = len(data) if end is None else end
    at = start
    while at < end:
        if end - at < 8:
            raise Unsupported("a box header runs past its parent")
        size, kind = struct.unpack_from(">I4s", data, at)
        body = at + 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, at + 8)
            body = at + 16
        if size < body - at or at + size > end:
            raise Unsupported(f"box {kind!r} has a bad size")
        yield kind, at, body, at + size
        at += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int]:
    found = [(b, e) for k, _, b, e in _boxes(data, start, end) if k == kind]
    if len(found) != 1:
        raise Unsupported(f"{len(found)} {kind.decode()} boxes where one is expected")
    return found[0]


def parse_moov(moov: bytes) -> tuple[int, int, bytes, tuple[int, int, int]]:
    """(timescale, track id, stsd, trex defaults) of a one-video-track moov."""
    body = 8 if struct.unpack_from(">I", moov)[0] != 1 else 16
    traks = [(b, e) for k, _, b, e in _boxes(moov, body) if k == b"trak"]
    if len(traks) != 1:
        raise Unsupported(f"{len(traks)} tracks (only video-only files are spliced)")
    tb, te = traks[0]
    if any(k == b"edts" for k, _, _, _ in _boxes(moov, tb, te)):
        raise Unsupported("the track has an edit list")
    tkhd_b, _ = _child(moov, tb, te, b"tkhd")
    track_id = struct.unpack_from(">I", moov, tkhd_b + (20 if moov[tkhd_b] == 1 else 12))[0]
    mdia = _child(moov, tb, te, b"mdia")
    mdhd_b, _ = _child(moov, *mdia, b"mdhd")
    timescale = struct.unpack_from(">I", moov, mdhd_b + (20 if moov[mdhd_b] == 1 else 12))[0]
    hdlr_b, _ = _child(moov, *mdia, b"hdlr")
    if moov[hdlr_b + 8 : hdlr_b + 12] != b"vide":
        raise Unsupported("the track is not video")
    minf = _child(moov, *mdia, b"minf")
    stbl = _child(moov, *minf, b"stbl")
    stsd = moov[slice(*_child(moov, *stbl, b"stsd"))]
    mvex = _child(moov, body, len(moov), b"mvex")
    trex_b, _ = _child(moov, *mvex, b"trex")
    tid, _index, duration, size, flags = struct.unpack_from(">IIIII", moov, trex_b + 4)
    if tid != track_id or timescale == 0:
        raise Unsupported("the track's defaults do not match it")
    return timescale, track_id, stsd, (duration, size, flags)


def _fields(
    data: bytes, at: int, present: int, bits: tuple[int, ...], values: tuple[int, ...]
) -> tuple[tuple[int, ...], int]:
    """`values` with each one whose bit is in `present` read from the next 32-bit field."""
    out = list(values)
    for i, bit in enumerate(bits):
        if present & bit:
            out[i] = struct.unpack_from(">I", data, at)[0]
            at += 4
    return tuple(out), at


def parse_moof(moof: bytes, offset: int, track_id: int, trex: tuple[int, int, int]) -> Fragment:
    mfhd_b, _ = _child(moof, 8, len(moof), b"mfhd")
    trafs = [(b, e) for k, _, b, e in _boxes(moof, 8) if k == b"traf"]
    if len(trafs) != 1:
        raise Unsupported(f"a fragment with {len(trafs)} track runs")
    fb, fe = trafs[0]
    kinds = [k for k, _, _, _ in _boxes(moof, fb, fe)]
    if sorted(kinds) != [b"tfdt", b"tfhd", b"trun"]:
        raise Unsupported(f"a fragment with boxes {kinds}")
    hb, he = _child(moof, fb, fe, b"tfhd")
    tf_flags = int.from_bytes(moof[hb + 1 : hb + 4], "big")
    if struct.unpack_from(">I", moof, hb + 4)[0] != track_id:
        raise Unsupported("a fragment of another track")
    if tf_flags & BASE_DATA_OFFSET or not tf_flags & DEFAULT_BASE_IS_MOOF:
        raise Unsupported("data offsets not relative to the fragment")
    at = hb + 8 + (4 if tf_flags & SAMPLE_DESCRIPTION_INDEX else 0)
    defaults, at = _fields(moof, at, tf_flags, PER_FRAGMENT, trex)
    db, _ = _child(moof, fb, fe, b"tfdt")
    version = moof[db]
    tfdt = struct.unpack_from(">Q" if version == 1 else ">I", moof, db + 4)[0]
    rb, re_ = _child(moof, fb, fe, b"trun")
    tr_flags = int.from_bytes(moof[rb + 1 : rb + 4], "big")
    if tr_flags & SAMPLE_CTO or not tr_flags & DATA_OFFSET:
        raise Unsupported("composition offsets (B-frames) or no data offset")
    count = struct.unpack_from(">I", moof, rb + 4)[0]
    at = rb + 8
    data_offset = struct.unpack_from(">i", moof, at)[0]
    at += 4
    first_flags = None
    if tr_flags & FIRST_SAMPLE_FLAGS:
        first_flags = struct.unpack_from(">I", moof, at)[0]
        at += 4
    if at + 4 * sum(1 for f in PER_SAMPLE if tr_flags & f) * count > re_:
        raise Unsupported("a track run longer than its box")
    samples = []
    for i in range(count):
        (d, s, f), at = _fields(moof, at, tr_flags, PER_SAMPLE, defaults)
        if i == 0 and first_flags is not None:
            f = first_flags
        samples.append((d, s, f))
    if not samples or samples[0][2] & NON_SYNC:
        raise Unsupported("a fragment that does not start on a keyframe")
    if data_offset < len(moof):
        raise Unsupported("a data offset inside the fragment's header")
    return Fragment(
        offset=offset,
        moof=moof,
        mdat_header=0,
        mdat_size=0,
        tfdt=tfdt,
        tfdt_at=db + 4,
        tfdt_version=version,
        seq_at=mfhd_b + 4,
        trun_at=rb - 8,
        tfhd=moof[hb - 8 : he],
        trun_flags=tr_flags,
        first_flags=first_flags,
        samples=samples,
    )


def _read_header(f: BinaryIO, at: int, file_size: int) -> tuple[bytes, int, int]:
    """(type, header length, box size) of the top-level box at `at`."""
    f.seek(at)
    head = f.read(16)
    if len(head) < 8:
        raise Unsupported("the file ends inside a box header")
    size, kind = struct.unpack_from(">I4s", head)
    header = 8
    if size == 1:
        if len(head) < 16:
            raise Unsupported("the file ends inside a box header")
        (size,) = struct.unpack_from(">Q", head, 8)
        header = 16
    elif size == 0:
        size = file_size - at
    if size < header or at + size > file_size:
        raise Unsupported(f"box {kind!r} runs past the end of the file (cut short?)")
    return kind, header, size


def read_movie(path: Path, *, still_open: bool = False) -> Movie:
    """The layout of one recorded segment, or Unsupported.

    `still_open`: the file FFmpeg is still writing. Its fragments already written never
    change (each `moof`+`mdat` is written once, in order; closing only appends the `mfra`
    index), so it is read up to the end of its last complete fragment (`Movie.complete_end`)
    and whatever follows, a fragment being written, is left out.
    """
    path = Path(path)
    with path.open("rb") as f:
        file_size = f.seek(0, 2)
        at, ftyp, moov = 0, b"", b""
        movie: Movie | None = None
        trex = (0, 0, 0)
        pending: Fragment | None = None
        while at < file_size:
            try:
                kind, header, size = _read_header(f, at, file_size)
            except Unsupported:
                if still_open:
                    break  # the box being written
                raise
            if kind in (b"ftyp", b"moov"):
                if movie is not None:
                    raise Unsupported(f"a second {kind.decode()} after the fragments began")
                f.seek(at)
                data = f.read(size)
                if kind == b"ftyp":
                    ftyp = data
                else:
                    moov = data
            elif kind == b"moof":
                if movie is None:
                    if not ftyp or not moov:
                        raise Unsupported("fragments before the ftyp and moov")
                    timescale, track_id, stsd, trex = parse_moov(moov)
                    movie = Movie(path, ftyp, moov, timescale, track_id, stsd, trex)
                if pending is not None:
                    raise Unsupported("two moof boxes without an mdat between them")
                f.seek(at)
                pending = parse_moof(f.read(size), at, movie.track_id, trex)
            elif kind == b"mdat":
                if pending is None or movie is None:
                    raise Unsupported("media data outside a fragment")
                pending.mdat_header, pending.mdat_size = header, size - header
                _check_fragment(pending, at)
                movie.fragments.append(pending)
                pending = None
            elif kind not in SKIPPED:
                raise Unsupported(f"an unexpected {kind!r} box")
            at += size
    if still_open and movie is not None:
        pending = None  # a moof whose mdat is not written yet
    if movie is None or not movie.fragments or pending is not None:
        raise Unsupported("no complete fragments")
    movie.complete_end = movie.fragments[-1].end
    return movie


def newest_keyframe(path: Path) -> tuple[bytes, float]:
    """The segment's newest picture, even while it is recorded: a file FFmpeg decodes holding
    its last complete fragment (which starts on a keyframe) after its ftyp and moov, and that
    keyframe's time in seconds after the file's first fragment."""
    movie = read_movie(path, still_open=True)  # a closed file reads the same way
    last = movie.fragments[-1]
    with Path(path).open("rb") as f:
        f.seek(last.offset)
        fragment = f.read(last.end - last.offset)
    if len(fragment) != last.end - last.offset:
        raise Unsupported("the file shrank while being read")
    seconds = (last.tfdt - movie.fragments[0].tfdt) / movie.timescale
    return movie.ftyp + movie.moov + fragment, seconds


def _check_fragment(fragment: Fragment, mdat_at: int) -> None:
    if mdat_at != fragment.offset + len(fragment.moof):
        raise Unsupported("an mdat that does not follow its moof")
    first = struct.unpack_from(">i", fragment.moof, fragment.trun_at + 16)[0]
    if first != len(fragment.moof) + fragment.mdat_header:
        raise Unsupported("a fragment whose samples do not start its mdat")
    if sum(s for _, s, _ in fragment.samples) > fragment.mdat_size:
        raise Unsupported("a fragment whose samples overrun its mdat")


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def renumbered(fragment: Fragment, sequence: int, tfdt: int) -> bytes:
    """The fragment's moof with a new sequence number and decode time; nothing else changes."""
    moof = bytearray(fragment.moof)
    struct.pack_into(">I", moof, fragment.seq_at, sequence)
    struct.pack_into(">Q" if fragment.tfdt_version == 1 else ">I", moof, fragment.tfdt_at, tfdt)
    return bytes(moof)


def truncated(fragment: Fragment, sequence: int, tfdt: int, count: int) -> tuple[bytes, int]:
    """A moof and mdat header for the first `count` samples only; (header bytes, data bytes)."""
    flags = fragment.trun_flags | SAMPLE_DURATION | SAMPLE_SIZE
    if fragment.trun_flags & SAMPLE_FLAGS:
        flags |= SAMPLE_FLAGS
    samples = fragment.samples[:count]
    rows = b"".join(
        struct.pack(">II", d, s) + (struct.pack(">I", f) if flags & SAMPLE_FLAGS else b"")
        for d, s, f in samples
    )
    first = b""
    if fragment.first_flags is not None:
        first = struct.pack(">I", fragment.first_flags)

    def moof_with(offset: int) -> bytes:
        trun = _box(
            b"trun",
            struct.pack(">I", flags) + struct.pack(">Ii", count, offset) + first + rows,
        )
        tfdt_box = _box(b"tfdt", struct.pack(">IQ", 1 << 24, tfdt))
        traf = _box(b"traf", fragment.tfhd + tfdt_box + trun)
        return _box(b"moof", _box(b"mfhd", struct.pack(">II", 0, sequence)) + traf)

    size = len(moof_with(0))
    data = sum(s for _, s, _ in samples)
    return moof_with(size + 8) + struct.pack(">I4s", 8 + data, b"mdat"), data


@dataclass
class Spliced:
    start: float  # seconds into the first file where the clip starts (its first keyframe)
    duration: float  # seconds of frames the clip holds
    # (file, first byte, end byte) of the recorded fragments the clip copies, their moof
    # headers renumbered (and the last one's cut after the window's last frame)
    ranges: list[tuple[Path, int, int]]


def plan_start(movie: Movie, offset: float) -> int:
    """Index of the fragment holding `offset` s: it starts on the keyframe at or before it."""
    ticks = offset * movie.timescale + 1e-6 * movie.timescale
    candidates = [i for i, fr in enumerate(movie.fragments) if fr.tfdt <= ticks]
    if not candidates:
        raise Unsupported("the window starts before the file's first keyframe")
    return candidates[-1]


def splice(
    paths: list[Path],
    offset: float,
    until: float,
    sink: Callable[[bytes], object],
    *,
    last_open: bool = False,
) -> Spliced:
    """Write to `sink` a clip of `paths` (files that follow each other) from the keyframe at
    or before `offset` s into the first until `until` s after the first one's start.
    `last_open`: the last file is still being recorded (read up to its last complete
    fragment). Raises Unsupported before anything is written.
    """
    movies = [read_movie(p, still_open=last_open and p == paths[-1]) for p in paths]
    first = movies[0]
    for other in movies[1:]:
        settings = ("timescale", "track_id", "stsd", "trex", "ftyp")
        if any(getattr(other, name) != getattr(first, name) for name in settings):
            raise Unsupported(f"{other.path.name} was recorded with other codec settings")
    ts = first.timescale
    start_index = plan_start(first, offset)
    start_ticks = first.fragments[start_index].tfdt
    end_ticks = round(until * ts) - start_ticks
    chosen: list[tuple[Movie, Fragment, int]] = []  # (movie, fragment, clip decode time)
    base = 0  # where this file's first fragment goes on the clip's timeline
    for n, movie in enumerate(movies):
        fragments = movie.fragments[start_index:] if n == 0 else movie.fragments
        zero = fragments[0].tfdt
        for fragment in fragments:
            decode_at = base + fragment.tfdt - zero
            if decode_at >= end_ticks:
                break
            if fragment.tfdt_version == 0 and decode_at >= 1 << 32:
                raise Unsupported("a decode time too large for its 32-bit field")
            chosen.append((movie, fragment, decode_at))
        base += fragments[-1].tfdt + fragments[-1].duration - zero
        if base >= end_ticks:
            break
    if not chosen:
        raise Unsupported("no fragment in the window")
    sink(first.ftyp + first.moov)
    ranges: list[tuple[Path, int, int]] = []
    held = 0
    handles: dict[Path, BinaryIO] = {}
    try:
        for sequence, (movie, fragment, decode_at) in enumerate(chosen, start=1):
            keep = len(fragment.samples)
            if decode_at + fragment.duration > end_ticks:
                elapsed, keep = 0, 0
                for d, _, _ in fragment.samples:
                    if decode_at + elapsed >= end_ticks:
                        break
                    elapsed += d
                    keep += 1
            if movie.path not in handles:
                handles[movie.path] = movie.path.open("rb")
            f = handles[movie.path]
            mdat_at = fragment.offset + len(fragment.moof)
            if keep == len(fragment.samples):  # the recorded mdat, its header included
                sink(renumbered(fragment, sequence, decode_at))
                copy_from, length = mdat_at, fragment.mdat_header + fragment.mdat_size
            else:
                header, length = truncated(fragment, sequence, decode_at, keep)
                sink(header)
                copy_from = mdat_at + fragment.mdat_header
            f.seek(copy_from)
            left = length
            while left:
                block = f.read(min(BLOCK, left))
                if not block:
                    raise OSError(f"{movie.path.name} shrank while being read")
                sink(block)
                left -= len(block)
            end = copy_from + length
            if ranges and ranges[-1][0] == movie.path and ranges[-1][2] == fragment.offset:
                ranges[-1] = (movie.path, ranges[-1][1], end)
            else:
                ranges.append((movie.path, fragment.offset, end))
            held = decode_at + sum(d for d, _, _ in fragment.samples[:keep])
    finally:
        for f in handles.values():
            f.close()
    return Spliced(start_ticks / ts, held / ts, ranges)
