"""One camera provenance in the evidence manifest and in the replicated `cameras` document
(they once drifted: `id`/`camera_id`, `fps`/`fps_milli`, a latitude of 0 became "")."""

import json
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cameras.provenance import provenance
from sync.documents import camera_doc
from tests.factories import make_camera, make_segments
from tests.recordings.test_export import export

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_the_manifest_and_the_document_carry_the_same_provenance(db, tmp_path):
    camera = make_camera(
        "North",
        latitude=Decimal("0"),
        longitude=Decimal("-87.623177"),
        main_fps=12.5,
        main_stream_uri="rtsp://admin:s3cret@10.0.0.7:554/main",
    )
    make_segments(camera, T0, 1, seconds=4)
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    with zipfile.ZipFile(package) as z:
        manifest = json.loads(next(z.read(n) for n in z.namelist() if n.endswith("manifest.json")))
    [in_package] = manifest["cameras"]
    document = camera_doc(camera)
    assert in_package == {k: document[k] for k in in_package}
    assert set(document) - set(in_package) == {"_id", "box", "schema", "kind", "revision"}
    assert in_package["camera_id"] == camera.pk and in_package["fps_milli"] == 12500
    assert in_package["latitude"] == "0.000000" and in_package["longitude"] == "-87.623177"
    assert "s3cret" not in json.dumps(in_package)
    assert provenance(make_camera("South"))["latitude"] is None  # unknown, not ""
