"""A verified document into the read models, one function per kind.

Called by the ingest inside the transaction that also advances the box's cursor, with a
document that `documents.malformed()` accepted and whose signature verified with the box's
enrolled key. Segments are chain-checked here, as they arrive.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import connection, models

from . import alerts, trust
from .documents import flag, number, part
from .models import (
    Box,
    Camera,
    GapRecord,
    HeartbeatSample,
    IntegrityProblem,
    SegmentRecord,
    Verification,
)

LATE_EVENTS = {"deleted": ("deleted_on_box", True), "hold_on": ("on_hold", True)}


class Batch:
    """What one chunk of a box's documents shares: its cameras, the last link written per
    camera, and (`bulk`) the new segment and heartbeat rows, written in one statement per
    kind when the chunk ends.

    The ingest tries a chunk in bulk first; if anything in it raises, the chunk's transaction
    is rolled back and it is applied again one document (and savepoint) at a time."""

    def __init__(self, box: Box, bulk: bool) -> None:
        self.box, self.bulk = box, bulk
        self.cameras = {c.camera_id: c for c in Camera.objects.filter(box=box)}
        self.dirty: dict[int, Camera] = {}
        self.links: dict[int, tuple[int, str]] = {}  # camera_id -> (sequence, chain_hash)
        self.rows: dict[type[SegmentRecord | HeartbeatSample], list] = {}

    def camera(self, camera_id: int, name: str) -> Camera:
        if camera_id not in self.cameras:
            self.cameras[camera_id] = Camera.objects.create(
                box=self.box, camera_id=camera_id, name=name[:100]
            )
        return self.cameras[camera_id]

    def changed(self, camera: Camera) -> None:
        self.dirty[camera.camera_id] = camera

    def add(self, row: SegmentRecord | HeartbeatSample) -> None:
        """A new row: in bulk, written with its kind's others at flush(); else now."""
        if self.bulk:
            self.rows.setdefault(type(row), []).append(row)
        else:
            row.save()

    def flush(self) -> None:
        for model, rows in self.rows.items():
            insert(model, rows)
        self.rows = {}
        for camera in self.dirty.values():
            camera.save()
        self.dirty = {}


def insert(model: type[SegmentRecord | HeartbeatSample], rows: list) -> None:
    """New rows in one `executemany`: the INSERT that `bulk_create` would run, at a third of
    its CPU. bulk_create prepares each field of each row through several method calls (~45 µs
    a segment row, a fifth of the ingest's work per document, bench/rtcc.py); these rows only
    hold what `documents.malformed()` has already typed (ints, strings, booleans, None, aware
    datetimes), so only the datetimes need the backend's own adaptation (on SQLite, naive UTC
    text, which its range queries compare as text). Constraints are the database's either way:
    a row that breaks one raises here, and the ingest applies the chunk again one document at
    a time, through `save()`."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    places = ", ".join(["%s"] * len(fields))
    dates = [isinstance(f, models.DateTimeField) for f in fields]
    adapt = connection.ops.adapt_datetimefield_value
    params = [
        [
            adapt(value) if date else value
            for value, date in zip((getattr(row, f.attname) for f in fields), dates, strict=True)
        ]
        for row in rows
    ]
    sql = f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES ({places})"
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def apply(batch: Batch, doc: dict, now: datetime, late: bool = False) -> None:
    kind = doc["kind"]
    if kind == "camera":
        camera_revision(batch, doc)
    elif kind == "segment":
        segment(batch, doc, now, late)
    elif kind == "segment_event":
        segment_event(batch, doc)
    elif kind in ("gap_opened", "gap_closed"):
        gap(batch, doc)
    elif kind == "heartbeat":
        heartbeat(batch, doc, now)
    # box (keys), dropped (holes): the ingest's own; audit, export, integrity_check,
    # prefix_check (read when a retrieved package is verified): counted


def _decimal(text: str | None) -> Decimal | None:
    try:
        value = Decimal(text) if text else None
    except InvalidOperation:
        return None
    return value if value is not None and abs(value) <= 180 else None


def camera_revision(batch: Batch, doc: dict) -> None:
    camera = batch.camera(doc["camera_id"], doc["name"])
    camera.name = doc["name"]
    camera.location = doc.get("location") or ""
    camera.latitude = _decimal(doc.get("latitude"))
    camera.longitude = _decimal(doc.get("longitude"))
    facing = doc.get("facing_degrees")
    camera.facing_degrees = facing if isinstance(facing, int) and 0 <= facing < 360 else None
    for name in ("manufacturer", "model", "serial_number", "firmware_version"):
        setattr(camera, name, doc.get(name) or "")
    camera.is_enabled = doc["is_enabled"]
    camera.revision = doc["revision"]
    batch.changed(camera)


def segment(batch: Batch, doc: dict, now: datetime, late: bool = False) -> None:
    box, camera = batch.box, batch.camera(doc["camera_id"], doc["camera"])
    verification, problem = trust.link(doc, _prev_link(batch, camera, doc["sequence"]))
    record = SegmentRecord(
        box=box,
        camera=camera,
        sequence=doc["sequence"],
        start=doc["start"],
        end=doc["end"],
        size=doc["size"],
        sha256=doc["sha256"],
        prev_chain_hash=doc["prev_chain_hash"],
        chain_hash=doc["chain_hash"],
        status=doc["status"],
        on_hold=doc["on_hold"],
        verification=verification,
        doc_id=doc["_id"],
        n=doc["n"],
        ingested_at=now,
    )
    batch.add(record)
    batch.links[camera.camera_id] = (record.sequence, record.chain_hash)
    if problem:
        _chain_problem(box, camera, doc, problem, now)
    if camera.last_segment_end is None or record.end > camera.last_segment_end:
        camera.last_segment_end = record.end
    _advance_chain(camera, record)
    batch.changed(camera)
    if late:  # it arrived after later sequences: the next one was left unlinked
        _relink_successor(box, camera, record, now)


def _prev_link(batch: Batch, camera: Camera, sequence: int) -> str | None:
    """The previous sequence's chain hash, without a query when it was just written or is the
    camera's verified head (the common case: segments arrive in order)."""
    if sequence == 1:
        return None
    if batch.links.get(camera.camera_id, (0, ""))[0] == sequence - 1:
        return batch.links[camera.camera_id][1]
    if camera.chain_sequence == sequence - 1:
        return camera.chain_hash
    batch.flush()
    prev = SegmentRecord.objects.filter(camera=camera, sequence=sequence - 1)
    return prev.values_list("chain_hash", flat=True).first()


def _advance_chain(camera: Camera, record: SegmentRecord) -> None:
    if (
        record.verification == Verification.VERIFIED
        and (camera.chain_sequence or 0) < record.sequence
    ):
        camera.chain_sequence, camera.chain_hash = record.sequence, record.chain_hash


def _relink_successor(box: Box, camera: Camera, record: SegmentRecord, now: datetime) -> None:
    """A segment that arrived late links the one after it, which was left unlinked."""
    after = SegmentRecord.objects.filter(
        camera=camera,
        sequence=record.sequence + 1,
        verification__in=[Verification.UNLINKED, Verification.ORPHAN],
    ).first()
    if after is None:
        return
    if after.prev_chain_hash == record.chain_hash:
        after.verification = Verification.VERIFIED
    else:
        after.verification = Verification.BROKEN
        alerts.problem(
            IntegrityProblem.Kind.BROKEN_LINK,
            box,
            f"prev_chain_hash {after.prev_chain_hash[:16]}… is not sequence "
            f"{record.sequence}'s chain_hash {record.chain_hash[:16]}…",
            doc={"_id": after.doc_id, "n": after.n},
            camera=camera,
            sequence=after.sequence,
            now=now,
        )
    after.save(update_fields=["verification"])


def _chain_problem(box: Box, camera: Camera, doc: dict, problem: str, now: datetime) -> None:
    if problem == "bad_hash":
        detail = "chain_hash does not match the segment's own fields"
    elif doc["sequence"] == 1:
        detail = f"sequence 1 must link to genesis, not {doc['prev_chain_hash'][:16]}…"
    else:
        detail = (
            f"prev_chain_hash {doc['prev_chain_hash'][:16]}… is not sequence "
            f"{doc['sequence'] - 1}'s chain_hash"
        )
    alerts.problem(problem, box, detail, doc=doc, camera=camera, sequence=doc["sequence"], now=now)


def segment_event(batch: Batch, doc: dict) -> None:
    field = LATE_EVENTS.get(doc["event"])
    camera = batch.cameras.get(doc["camera_id"])
    if camera is None:
        return
    batch.flush()  # the segment may be among this chunk's rows
    records = SegmentRecord.objects.filter(camera=camera, sequence=doc["sequence"])
    if field is not None:
        records.update(**{field[0]: field[1]})
    elif doc["event"] == "hold_off":
        records.update(on_hold=False)


def gap(batch: Batch, doc: dict) -> None:
    camera = batch.camera(doc["camera_id"], doc["camera"])
    GapRecord.objects.update_or_create(
        box=batch.box,
        gap=doc["gap"],
        defaults={
            "camera": camera,
            "start": doc["start"],
            "end": doc["end"],
            "cause": doc["cause"],
            "cause_text": doc["cause_text"],
            "detail": doc["detail"],
            "doc_id": doc["_id"],
        },
    )


def heartbeat(batch: Batch, doc: dict, now: datetime) -> None:
    """Contact on the console's clock, the box's health now, a sample for the charts."""
    box = batch.box
    disk, pi, backlog = part(doc, "disk"), part(doc, "pi"), part(doc, "outbox")
    load = doc.get("load_centi") or [None]
    sample = HeartbeatSample(
        box=box,
        received_at=now,
        time=doc["time"],
        cpu_temp_millic=number(pi.get("cpu_temp_millic")),
        throttled=flag(pi.get("throttled")),
        under_voltage=flag(pi.get("under_voltage")),
        disk_free=number(disk.get("free")),
        disk_total=number(disk.get("total")),
        load_centi=number(load[0]),
        backlog=number(backlog.get("pending")),
        backlog_age_s=number(backlog.get("oldest_age_s")),
        clock_synced=doc.get("clock_synced"),
        n=doc["n"],
    )
    batch.add(sample)
    if box.last_heartbeat_time and doc["time"] < box.last_heartbeat_time:
        return  # an older heartbeat delivered late: a sample, not the box's state now
    box.last_contact_at, box.last_heartbeat_time = now, doc["time"]
    box.software = doc["software"]
    zerotier = part(doc, "zerotier")
    box.zerotier_address = str(zerotier.get("address") or "")[:100]
    box.health = {
        "disk_free": number(disk.get("free")),
        "disk_total": number(disk.get("total")),
        "under_voltage": flag(pi.get("under_voltage")),
        "throttled": flag(pi.get("throttled")),
        "cpu_temp_millic": number(pi.get("cpu_temp_millic")),
        "clock_synced": doc.get("clock_synced"),
        "backlog": number(backlog.get("pending")),
        "backlog_age_s": number(backlog.get("oldest_age_s")),
        # The box page links to the box's own admin and live view over these (ZeroTier IPs).
        "zerotier_ips": zerotier_ips(zerotier),
    }
    for state in doc["cameras"][:64]:
        if isinstance(state, dict) and number(state.get("camera_id")) is not None:
            _camera_state(batch, state)


def zerotier_ips(zerotier: dict) -> list[str]:
    """The addresses ZeroTier assigned the box ("10.147.17.5/24" → "10.147.17.5"), at most 4."""
    ips = []
    for net in zerotier.get("networks") or []:
        if isinstance(net, dict) and isinstance(net.get("addresses"), list):
            ips += [str(a).split("/")[0][:45] for a in net["addresses"] if isinstance(a, str)]
    return ips[:4]


def _camera_state(batch: Batch, state: dict) -> None:
    camera = batch.camera(state["camera_id"], str(state.get("name") or "?"))
    camera.box_status = str(state.get("status") or "")[:30]
    camera.is_enabled = bool(state.get("enabled", camera.is_enabled))
    camera.last_error = str(state.get("last_error") or "")[:500]
    if not camera.revision:  # no `cameras` document yet: the heartbeat's position meanwhile
        camera.latitude = _decimal(state.get("latitude"))
        camera.longitude = _decimal(state.get("longitude"))
    end = state.get("last_segment_end")
    if isinstance(end, datetime) and (
        camera.last_segment_end is None or end > camera.last_segment_end
    ):
        camera.last_segment_end = end
    batch.changed(camera)
