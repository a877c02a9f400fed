"""Fill the RTCC console's read models with a city-sized fleet, for page and query timings.

    import django; django.setup()                 # DJANGO_SETTINGS_MODULE=rtcc.settings
    from bench.rtcc_fill import fill
    fill(boxes=500, cameras=4, days=30)           # ~5.8 M segments, 720 k heartbeats

Rows are written straight into the read models (bulk_create), shaped as the ingest writes them:
enrolled boxes with positions around a city centre, cameras recording (a few degraded or dark),
15-minute segments with a gap every ~day per camera, one heartbeat a minute for the last day,
a few alerts. Deterministic for given arguments. Returns the row counts.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction

from rtcc.models import (
    Alert,
    Box,
    Camera,
    GapRecord,
    HeartbeatSample,
    SegmentRecord,
    Verification,
)

SEGMENT = timedelta(minutes=15)
BATCH = 5000


def fill(
    boxes: int = 500,
    cameras: int = 4,
    days: int = 30,
    beat_hours: int = 24,
    now: datetime | None = None,
) -> dict[str, int]:
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    counts = {"boxes": 0, "cameras": 0, "segments": 0, "gaps": 0, "heartbeats": 0}
    for b in range(boxes):
        with transaction.atomic():
            box = _box(b, now)
            counts["boxes"] += 1
            for c in range(cameras):
                camera = _camera(box, b, c, now)
                counts["cameras"] += 1
                segments, gaps = _timeline(box, camera, now, days)
                counts["segments"] += segments
                counts["gaps"] += gaps
            counts["heartbeats"] += _beats(box, now, beat_hours)
    return counts


def _box(b: int, now: datetime) -> Box:
    state = Box.State.DARK if b % 50 == 7 else Box.State.RECORDING
    if b % 25 == 3:
        state = Box.State.DEGRADED
    box = Box.objects.create(
        box_id=f"box-{b:04d}",
        enrolment=Box.Enrolment.ENROLLED,
        fingerprint=hashlib.sha256(f"key{b}".encode()).hexdigest(),
        public_key_pem="-",
        state=state,
        first_seen_at=now - timedelta(days=60),
        last_contact_at=now - (timedelta(hours=3) if state == Box.State.DARK else timedelta(0)),
        last_heartbeat_time=now,
        software="crimebox 0.1.0",
        health={"disk_free": 50_000_000_000, "disk_total": 100_000_000_000},
        last_n=10_000,
    )
    if state != Box.State.RECORDING:
        Alert.objects.create(
            kind=Alert.Kind.SILENT if state == Box.State.DARK else Alert.Kind.DISK,
            box=box,
            key=f"bench:{b}",
            message=f"bench alert on {box.box_id}",
            raised_at=now - timedelta(hours=1),
        )
    return box


def _camera(box: Box, b: int, c: int, now: datetime) -> Camera:
    return Camera.objects.create(
        box=box,
        camera_id=c + 1,
        name=f"cam {c + 1}",
        latitude=Decimal("41.80") + Decimal(b % 40) / 200,
        longitude=Decimal("-87.70") + Decimal(b // 40) / 200 + Decimal(c) / 5000,
        facing_degrees=90 * c,
        state=Camera.State.DARK if box.state == Box.State.DARK else Camera.State.RECORDING,
        box_status="recording",
        last_segment_end=now,
        chain_sequence=0,
    )


def _timeline(box: Box, camera: Camera, now: datetime, days: int) -> tuple[int, int]:
    start = now - timedelta(days=days)
    count = int(timedelta(days=days) / SEGMENT)
    rows, gaps, prev = [], [], "0" * 64
    for i in range(count):
        t = start + i * SEGMENT
        if i % 97 == 50:  # about a gap a day
            gaps.append(
                GapRecord(
                    box=box,
                    camera=camera,
                    gap=camera.camera_id * 100_000 + i,
                    start=t,
                    end=t + SEGMENT,
                    cause="unreachable",
                    cause_text="Camera unreachable",
                    doc_id=f"{box.box_id}:gap_closed:{camera.camera_id}:{i}",
                )
            )
            continue
        sha = hashlib.sha256(f"{box.box_id}{camera.camera_id}{i}".encode()).hexdigest()
        chain = hashlib.sha256(f"{prev}{sha}".encode()).hexdigest()
        rows.append(
            SegmentRecord(
                box=box,
                camera=camera,
                sequence=i + 1,
                start=t,
                end=t + SEGMENT,
                size=50_000_000,
                sha256=sha,
                prev_chain_hash=prev,
                chain_hash=chain,
                status="complete",
                verification=Verification.VERIFIED,
                doc_id=f"{box.box_id}:segment:{camera.camera_id}:{i + 1}",
                n=i + 1,
                ingested_at=t + SEGMENT,
            )
        )
        prev = chain
    SegmentRecord.objects.bulk_create(rows, batch_size=BATCH)
    GapRecord.objects.bulk_create(gaps, batch_size=BATCH)
    Camera.objects.filter(pk=camera.pk).update(chain_sequence=count, chain_hash=prev)
    return len(rows), len(gaps)


def _beats(box: Box, now: datetime, hours: int) -> int:
    rows = [
        HeartbeatSample(
            box=box,
            received_at=now - timedelta(minutes=m),
            time=now - timedelta(minutes=m),
            cpu_temp_millic=45_000 + (m % 60) * 100,
            throttled=False,
            under_voltage=False,
            disk_free=50_000_000_000 - m * 1_000_000,
            disk_total=100_000_000_000,
            load_centi=50 + m % 30,
            backlog=m % 5,
            backlog_age_s=60,
            clock_synced=True,
            n=m + 1,
        )
        for m in range(hours * 60)
    ]
    HeartbeatSample.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)
