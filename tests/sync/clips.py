"""Builders for the clip-request tests: the console's key, its signed requests, footage."""

import json
import zipfile
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from cameras.models import Camera
from crimebox import retrieval as proto
from crimebox.keys import SigningKey, load_or_create
from recordings.index import open_segment, segment_dir
from recordings.models import Segment
from tests.factories import make_media

T0 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def make_request(key: SigningKey, **fields) -> dict:
    values = {
        "request": proto.new_request_id(),
        "box": "test-box",
        "camera": "North",
        "start": T0 + timedelta(seconds=1),
        "end": T0 + timedelta(seconds=10),
        "case_number": "26-004512",
        "reason": "hit and run on Main St",
        "user": "alice",
        "priority": 0,
        "created_at": datetime.now(UTC),
    }
    return proto.request_doc(key, **(values | fields))


def other_key(tmp_path: Path) -> SigningKey:
    return load_or_create(tmp_path / "not_the_console.pem")


def export_into_open_segment(camera: Camera, after: Segment, out: Path) -> tuple[Path, Path]:
    """A segment still being recorded after `after` and a package whose window reaches into
    it (the export reads its file up to the last complete fragment): (its file, the package)."""
    start = after.end
    path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%S}Z.mp4"
    open_segment(camera, make_media(path, 4), start)
    stdout = StringIO()
    call_command(
        "export_clip",
        *("--camera", camera.name, "--case", "26-1", "--reason", "just happened"),
        *("--start", (start - timedelta(seconds=3)).isoformat()),
        *("--end", (start + timedelta(seconds=2)).isoformat()),
        *("--out", str(out)),
        stdout=stdout,
    )
    return path, Path(stdout.getvalue().strip())


def manifest_of(package: Path) -> dict:
    with zipfile.ZipFile(package) as z:
        return json.loads(next(z.read(n) for n in z.namelist() if n.endswith("manifest.json")))
