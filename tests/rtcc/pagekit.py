"""The console's pages in the box's test process: its URLconf and templates, users per role,
and small builders of read-model rows (the ingest's output) for the page tests.

Import the fixture where it is used: `from tests.rtcc.pagekit import console_site  # noqa: F401`.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from rtcc import roles
from rtcc.models import (
    Box,
    Camera,
    ClipJob,
    GapRecord,
    HeartbeatSample,
    IngestState,
    SegmentRecord,
)
from rtcc.retrieval_verify import evidence_dir

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "role-pass-2026"
PACKAGE = bytes(range(256)) * 300  # 76,800 bytes: more than one 64 KiB block


def now() -> datetime:
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def console_site(settings):
    """What rtcc.settings gives the pages: its URLconf and its admin/base_site.html first."""
    settings.ROOT_URLCONF = "rtcc.urls"
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [ROOT / "rtcc" / "templates"]}]
    settings.RTCC_TILE_URL = ""


def make_user(username: str, role: str | None = None, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.org", PASSWORD)
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


ROLE_USERS = {
    "operator": roles.OPERATOR,
    "investigator": roles.INVESTIGATOR,
    "administrator": roles.ADMINISTRATOR,
    "auditor": roles.AUDITOR,
    "nobody": None,
}


def make_box(box_id: str = "box-1", state: str = Box.State.RECORDING, **fields) -> Box:
    fields.setdefault("enrolment", Box.Enrolment.ENROLLED)
    fields.setdefault("fingerprint", "ab" * 32)
    fields.setdefault("last_contact_at", now() - timedelta(minutes=1))
    fields.setdefault("health", {"disk_free": 40 * 10**9, "backlog": 3})
    return Box.objects.create(box_id=box_id, state=state, **fields)


def make_camera(
    box: Box, camera_id: int = 1, lat: str | None = "41.878100", lon=None, **f
) -> Camera:
    f.setdefault("name", f"Cam {camera_id}")
    f.setdefault("state", Camera.State.RECORDING)
    f.setdefault("latitude", Decimal(lat) if lat else None)
    f.setdefault("longitude", Decimal(lon or "-87.629800") if lat else None)
    return Camera.objects.create(box=box, camera_id=camera_id, **f)


def make_segment(
    camera: Camera, sequence: int, start: datetime, minutes: int = 15, **f
) -> SegmentRecord:
    f.setdefault("sha256", f"{sequence:064x}")
    f.setdefault("verification", "verified")
    return SegmentRecord.objects.create(
        box=camera.box,
        camera=camera,
        sequence=sequence,
        start=start,
        end=start + timedelta(minutes=minutes),
        prev_chain_hash="0" * 64,
        chain_hash="1" * 64,
        doc_id=f"{camera.box.box_id}:seg:{camera.camera_id}:{sequence}",
        n=sequence,
        **f,
    )


def make_gap(camera: Camera, gap: int, start: datetime, end: datetime | None, cause="camera_down"):
    return GapRecord.objects.create(
        box=camera.box,
        camera=camera,
        gap=gap,
        start=start,
        end=end,
        cause=cause,
        cause_text=cause.replace("_", " "),
        doc_id=f"{camera.box.box_id}:gap:{gap}",
    )


def make_beat(box: Box, at: datetime, n: int, **f) -> HeartbeatSample:
    f.setdefault("cpu_temp_millic", 52000)
    f.setdefault("disk_free", 40 * 10**9)
    f.setdefault("load_centi", 80)
    f.setdefault("backlog", 2)
    f.setdefault("clock_synced", True)
    f.setdefault("throttled", False)
    f.setdefault("under_voltage", False)
    return HeartbeatSample.objects.create(box=box, received_at=at, time=at, n=n, **f)


def ingested(at: datetime, error: str = "") -> IngestState:
    state = IngestState.get()
    state.last_pass_at = state.last_ok_at = at
    if error:
        state.last_error, state.last_error_at = error, at + timedelta(seconds=1)
    state.save()
    return state


def make_clip_job(request: str = "a" * 32, state: str = ClipJob.State.QUEUED, **fields) -> ClipJob:
    t = fields.pop("at", now() - timedelta(hours=2))
    fields.setdefault("box_id", "box-1")
    fields.setdefault("camera", "Cam 1")
    return ClipJob.objects.create(
        request=request,
        start=t - timedelta(minutes=10),
        end=t - timedelta(minutes=8),
        case_number="26-004512",
        reason="hit and run",
        user="investigator",
        created_at=t,
        state=state,
        **fields,
    )


def make_ready_job(request: str = "b" * 32, data: bytes = PACKAGE) -> ClipJob:
    folder = evidence_dir() / "box-1"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{request}.zip"
    path.write_bytes(data)
    path.chmod(0o444)
    return make_clip_job(
        request,
        ClipJob.State.READY,
        path=str(path),
        package_sha256="5" * 64,
        package_size=len(data),
        report={
            "checks": ["closing document matches", "3 source segment(s) match"],
            "verified_at": "2026-12-05T06:00:00+00:00",
        },
        finished_at=now(),
    )
