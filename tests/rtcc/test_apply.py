"""rtcc/apply.py: the ingest's own INSERT stores exactly what bulk_create would."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from rtcc import apply
from rtcc.models import Box, Camera, HeartbeatSample, SegmentRecord

from .conftest import T0

pytestmark = pytest.mark.django_db


def make_segment(camera: Camera, sequence: int) -> SegmentRecord:
    return SegmentRecord(
        box=camera.box,
        camera=camera,
        sequence=sequence,
        start=T0 + timedelta(milliseconds=123),
        end=T0 + timedelta(minutes=15),  # a whole second: SQLite's text has no fraction
        size=2**62,
        sha256="a" * 64,
        prev_chain_hash="b" * 64,
        chain_hash="c" * 64,
        status="closed",
        on_hold=True,
        verification="verified",
        doc_id=f"box-1:segment:{sequence}",
        n=sequence,
        ingested_at=T0,
    )


def make_sample(box: Box, n: int) -> HeartbeatSample:
    return HeartbeatSample(
        box=box, received_at=T0, time=T0 - timedelta(milliseconds=1), throttled=False, n=n
    )


def stored(model, pk_field: str, values: list) -> list[tuple]:
    """The rows as the database holds them, as text (SQLite compares datetimes as text), but
    for the pk and the numbering fields that differ on purpose."""
    fields = [
        f.column
        for f in model._meta.concrete_fields
        if not f.primary_key and f.column not in ("sequence", "doc_id", "n")
    ]
    qn = connection.ops.quote_name
    columns = ", ".join(f"CAST({qn(c)} AS TEXT)" for c in fields)
    sql = (
        f"SELECT {columns} FROM {qn(model._meta.db_table)} "
        f"WHERE {qn(pk_field)} IN ({', '.join(['%s'] * len(values))}) ORDER BY {qn(pk_field)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.fetchall()


def test_insert_stores_what_bulk_create_stores():
    box = Box.objects.create(box_id="box-1", first_seen_at=T0)
    camera = Camera.objects.create(box=box, camera_id=1, name="North")
    SegmentRecord.objects.bulk_create([make_segment(camera, 1), make_segment(camera, 2)])
    apply.insert(SegmentRecord, [make_segment(camera, 11), make_segment(camera, 12)])
    assert stored(SegmentRecord, "n", [1, 2]) == stored(SegmentRecord, "n", [11, 12])
    HeartbeatSample.objects.bulk_create([make_sample(box, 1)])
    apply.insert(HeartbeatSample, [make_sample(box, 11)])
    assert stored(HeartbeatSample, "n", [1]) == stored(HeartbeatSample, "n", [11])

    got = SegmentRecord.objects.get(n=11)
    assert (got.start, got.size, got.on_hold) == (
        T0 + timedelta(milliseconds=123),
        2**62,
        True,
    )
    sample = HeartbeatSample.objects.get(n=11)
    assert sample.time == T0 - timedelta(milliseconds=1) and sample.disk_free is None


def test_insert_leaves_constraints_to_the_database():
    box = Box.objects.create(box_id="box-1", first_seen_at=T0)
    camera = Camera.objects.create(box=box, camera_id=1, name="North")
    apply.insert(SegmentRecord, [make_segment(camera, 1)])
    # the ingest then applies the chunk again, document by document
    with pytest.raises(IntegrityError), transaction.atomic():
        apply.insert(SegmentRecord, [make_segment(camera, 1)])
    assert SegmentRecord.objects.count() == 1
