"""rtcc_verify: the ingest's checks again, over everything the ledger holds (docs/rtcc.md).

What an auditor runs before testifying that the datacenter's copy is whole: every document's
signature with the box's enrolled key, every document number accounted for, every camera's
chain continuous and recomputed, and every segment the console shows still in the ledger.
Read-only: nothing is written anywhere.

A number is accounted for by a document the box's enrolled key signed (only those: a stranger's
document claiming n = 2**63 proves nothing and must not make the check count to it), by the
box's own `dropped` declaration, or, for heartbeats, by a sample the console ingested (a
datacenter may expire heartbeats after 90 days, docs/sync.md: a fact the console holds is not
missing because the ledger let it go).
"""

from collections import defaultdict
from dataclasses import asdict, dataclass

from crimebox.hashing import GENESIS
from crimebox.signature import verify

from . import trust
from .documents import malformed
from .ledger import COLLECTIONS, Ledger
from .models import Box, HeartbeatSample, SegmentRecord


@dataclass
class Finding:
    box: str
    problem: str
    detail: str
    doc_id: str = ""
    camera_id: int | None = None
    sequence: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        where = f" camera {self.camera_id}" if self.camera_id is not None else ""
        where += f" sequence {self.sequence}" if self.sequence is not None else ""
        where += f" document {self.doc_id}" if self.doc_id else ""
        return f"{self.box}{where}: {self.problem}: {self.detail}"


@dataclass
class BoxReport:
    box: str
    documents: int = 0
    segments: int = 0
    findings: list[Finding] | None = None


def box_ids(ledger: Ledger) -> list[str]:
    """Every box the ledger or the console knows: a box the console never ingested is checked
    too (its documents are all untrusted until it is enrolled)."""
    ledger.ping()  # an unreachable ledger is an error, never an empty "ok"
    known = set(Box.objects.values_list("box_id", flat=True))
    return sorted(known | {b for b in ledger.box_ids() if b and len(b) <= 100})


def verify_all(ledger: Ledger, box_id: str | None = None) -> list[BoxReport]:
    ids = [box_id] if box_id else box_ids(ledger)
    known = {b.box_id: b for b in Box.objects.filter(box_id__in=ids)}
    return [verify_box(ledger, known.get(b) or Box(box_id=b)) for b in ids]


def verify_box(ledger: Ledger, box: Box) -> BoxReport:
    report = BoxReport(box.box_id, findings=[])
    found: list[Finding] = report.findings  # type: ignore[assignment]
    numbers: set[int] = set()
    declared: list[tuple[int, int]] = []
    chains: dict[int, dict[int, dict]] = defaultdict(dict)
    for name in COLLECTIONS:
        for doc in ledger.everything(name, box.box_id):
            report.documents += 1
            _check(box, name, doc, found, numbers, declared, chains)
    _numbers(box, numbers, declared, found)
    for camera_id, links in sorted(chains.items()):
        report.segments += len(links)
        _chain(box, camera_id, links, found)
    _still_there(box, chains, found)
    return report


def _check(
    box: Box,
    name: str,
    doc: dict,
    found: list[Finding],
    numbers: set[int],
    declared: list[tuple[int, int]],
    chains: dict[int, dict[int, dict]],
) -> None:
    doc_id = str(doc.get("_id", ""))[:300]
    if problem := malformed(doc, name, box.box_id):
        found.append(Finding(box.box_id, "malformed", problem, doc_id))
        return
    if doc["kind"] == "box":
        if problem := trust.key_problem(doc):
            found.append(Finding(box.box_id, "bad_signature", problem, doc_id))
        elif box.enrolment == Box.Enrolment.ENROLLED and doc["fingerprint"] == box.fingerprint:
            _number(box, doc, numbers, found)
        return
    if box.enrolment != Box.Enrolment.ENROLLED or doc["sig"]["key"] != box.fingerprint:
        found.append(
            Finding(
                box.box_id,
                "untrusted",
                f"signed by key {doc['sig']['key'][:64]} which is not the box's enrolled key",
                doc_id,
            )
        )
        return
    if not verify(doc, trust.public_key(box.fingerprint, box.public_key_pem)):
        sequence = doc.get("sequence") if doc["kind"] == "segment" else None
        found.append(
            Finding(
                box.box_id,
                "bad_signature",
                "the signature does not verify",
                doc_id,
                doc.get("camera_id"),
                sequence,
            )
        )
        return
    _number(box, doc, numbers, found)
    if doc["kind"] == "segment":
        chains[doc["camera_id"]][doc["sequence"]] = doc
    elif doc["kind"] == "dropped":
        declared.extend((r["first"], r["last"]) for r in doc["numbers"])


def _number(box: Box, doc: dict, numbers: set[int], found: list[Finding]) -> None:
    if doc["n"] in numbers:
        found.append(
            Finding(box.box_id, "conflict", f"number {doc['n']} used twice", str(doc["_id"]))
        )
    numbers.add(doc["n"])


def _numbers(
    box: Box, numbers: set[int], declared: list[tuple[int, int]], found: list[Finding]
) -> None:
    if box.pk is not None:
        numbers = numbers | set(HeartbeatSample.objects.filter(box=box).values_list("n", flat=True))
    if not numbers:
        return
    # Runs, never a range materialised: the gaps between the present numbers, minus the
    # declared ranges.
    present = sorted(numbers)
    gaps = [(a + 1, b - 1) for a, b in zip([0, *present], present, strict=False) if b > a + 1]
    for first, last in _without(gaps, sorted(declared)):
        found.append(
            Finding(
                box.box_id,
                "missing_number",
                f"documents n {first}..{last} are not in the "
                "ledger (later ones are) and the box declared none of them dropped",
            )
        )


def _without(gaps: list[tuple[int, int]], declared: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of the (sorted) gaps no (sorted) declared range covers."""
    out = []
    for first, last in gaps:
        for d_first, d_last in declared:
            if d_last < first or d_first > last:
                continue
            if d_first > first:
                out.append((first, d_first - 1))
            first = max(first, d_last + 1)
            if first > last:
                break
        if first <= last:
            out.append((first, last))
    return out


def _chain(box: Box, camera_id: int, links: dict[int, dict], found: list[Finding]) -> None:
    last = max(links)
    for sequence in range(1, last + 1):
        doc = links.get(sequence)
        if doc is None:
            after = links.get(sequence + 1) or links[min(s for s in links if s > sequence)]
            found.append(
                Finding(
                    box.box_id,
                    "missing_sequence",
                    f"not in the ledger; sequence {after['sequence']} is",
                    after["_id"],
                    camera_id,
                    sequence,
                )
            )
            continue
        prev = links.get(sequence - 1)
        _, problem = trust.link(doc, prev["chain_hash"] if prev else None)
        if problem:
            expected = GENESIS if sequence == 1 else (prev or {}).get("chain_hash", "?")
            detail = (
                "chain_hash does not match the segment's own fields"
                if problem == "bad_hash"
                else f"prev_chain_hash is not the previous link {expected[:16]}…"
            )
            found.append(Finding(box.box_id, problem, detail, doc["_id"], camera_id, sequence))


def _still_there(box: Box, chains: dict[int, dict[int, dict]], found: list[Finding]) -> None:
    """Segments the console shows must still be in the ledger."""
    if box.pk is None:  # a box the console never ingested shows nothing
        return
    present = {doc["_id"] for links in chains.values() for doc in links.values()}
    shown = SegmentRecord.objects.filter(box=box).values_list("doc_id", "sequence")
    for doc_id, sequence in shown.iterator():
        if doc_id not in present:
            found.append(
                Finding(
                    box.box_id,
                    "gone_from_ledger",
                    "the console ingested it; the ledger "
                    "no longer holds it (or it no longer verifies)",
                    doc_id,
                    None,
                    sequence,
                )
            )
