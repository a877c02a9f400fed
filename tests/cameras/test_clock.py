"""Camera clocks: a real ONVIF camera (ipycam) whose clock libfaketime holds 37 s slow."""

import http.server
import json
import shutil
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from cameras import clock
from cameras.models import Camera, ClockReading
from cameras.onvif import ONVIFError, read_clock
from cameras.services import add_onvif_camera, reprobe
from cameras.tasks import measure_clocks_task
from sync.models import OutboxItem
from tests.cameras.conftest import run_ipycam
from tests.factories import make_camera, make_segments
from tests.helpers import wait_for

FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


@pytest.fixture(scope="module")
def slow_camera(tmp_path_factory):
    """ipycam whose clock runs 37 s behind the box's."""
    if not FAKETIME_LIB.exists() or not shutil.which("faketime"):
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    env = {
        "LD_PRELOAD": str(FAKETIME_LIB),
        "FAKETIME": "-37s",
        "FAKETIME_NO_CACHE": "1",
    }
    with run_ipycam(tmp_path_factory.mktemp("ipycam-slow"), env) as peer:
        yield peer


def add(peer, name="Slow pole") -> Camera:
    with peer.netns():
        return add_onvif_camera(name, peer.host, peer.port, peer.username, peer.password)


def test_read_clock_measures_the_offset_and_its_uncertainty(slow_camera):
    with slow_camera.netns():
        sample = read_clock(
            slow_camera.host, slow_camera.port, slow_camera.username, slow_camera.password
        )
    assert abs(sample.offset + 37) <= sample.uncertainty + 0.5
    assert 0.5 <= sample.uncertainty < 2
    assert sample.camera_utc.tzinfo == UTC


def test_a_good_clock_reads_near_zero(onvif_camera):
    with onvif_camera.netns():
        sample = read_clock(
            onvif_camera.host, onvif_camera.port, onvif_camera.username, onvif_camera.password
        )
    assert abs(sample.offset) <= sample.uncertainty + 0.5


def test_unreachable_clock_is_one_readable_error(closed_port):
    with pytest.raises(ONVIFError, match="refused the connection"):
        read_clock("127.0.0.1", closed_port, "admin", "x-secret-1")


def test_slow_camera_shows_on_its_page_in_health_and_is_replicated(slow_camera, admin_client, db):
    camera = add(slow_camera)
    [reading] = ClockReading.objects.filter(camera=camera)  # measured when added
    assert -38.5 < reading.offset_seconds < -35.5
    with slow_camera.netns():
        reprobe(camera)  # and at once on re-probe
    assert ClockReading.objects.filter(camera=camera).count() == 2

    page = admin_client.get(f"/cameras/camera/{camera.pk}/change/").content.decode()
    assert "s slow (±" in page and "box clock" in page
    health = admin_client.get("/health").json()
    [entry] = [c for c in health["cameras"] if c["name"] == "Slow pole"]
    assert -38.5 < entry["clock_offset_seconds"] < -35.5
    assert any("Slow pole's clock is 3" in w and "slow" in w for w in health["warnings"])
    assert health["box_clock"]["state"]
    docs = [json.loads(i.body) for i in OutboxItem.objects.filter(kind="camera_clock")]
    assert len(docs) == 2 and all(-38500 < d["offset_ms"] < -35500 for d in docs)


def test_threshold_is_configurable(slow_camera, admin_client, db, settings):
    settings.CAMERA_CLOCK_WARN_SECONDS = 60
    add(slow_camera)
    assert not any("'s clock is" in w for w in admin_client.get("/health").json()["warnings"])


def test_non_onvif_camera_says_clock_not_measurable(admin_client, db):
    camera = make_camera("Plain")
    page = admin_client.get(f"/cameras/camera/{camera.pk}/change/").content.decode()
    assert "clock not measurable" in page
    [entry] = admin_client.get("/health").json()["cameras"]
    assert entry["clock"] == "clock not measurable (not an ONVIF camera)"


def test_the_schedule_measures_every_onvif_camera(slow_camera, db, closed_port):
    camera = add(slow_camera)
    Camera.objects.create(name="Gone", source=Camera.Source.ONVIF, host="127.0.0.1",
                          onvif_port=closed_port)  # fmt: skip
    with slow_camera.netns():
        assert measure_clocks_task() == "1 clocks measured, 1 not read"
    assert ClockReading.objects.filter(camera=camera).count() == 2


def test_manifest_states_offsets_before_and_after_and_the_burned_in_time(slow_camera, db, tmp_path):
    camera = add(slow_camera, "North")
    before = ClockReading.objects.get(camera=camera)
    start = before.measured_at + timedelta(milliseconds=100)
    make_segments(camera, start, 2, seconds=1)
    end = start + timedelta(seconds=2)
    wait_for(lambda: datetime.now(UTC) > end, timeout=10, what="the window to pass")
    with slow_camera.netns():
        clock.measure(camera)
    out = StringIO()
    call_command(
        "export_clip", "--camera", "North", "--start", start.isoformat(),
        "--end", end.isoformat(), "--case", "26-1", "--reason", "clock",
        "--out", str(tmp_path), stdout=out,
    )  # fmt: skip
    with zipfile.ZipFile(out.getvalue().strip()) as z:
        manifest = json.loads(next(z.read(n) for n in z.namelist() if n.endswith("manifest.json")))
        verify = next(z.read(n) for n in z.namelist() if n.endswith("VERIFY.txt")).decode()
    assert manifest["camera_moves"] == []  # nobody steered it
    [entry] = manifest["camera_clocks"]
    assert entry["before"]["offset_seconds"] == before.offset_seconds
    assert entry["after"] is not None and -38.5 < entry["after"]["offset_seconds"] < -35.5
    assert -38.5 < entry["offset_seconds"] < -35.5
    burned = datetime.fromisoformat(entry["burned_in_time_at_start_utc"])
    assert abs((start - burned).total_seconds() - 37) < 1.5
    assert "burned into North's picture should read about" in entry["statement"]
    assert "burned into a camera's picture is that camera's own clock" in verify.replace("\n", " ")


def test_manifest_of_a_non_onvif_camera_says_not_measurable(db):
    camera = make_camera("Plain")
    t = datetime(2026, 11, 1, tzinfo=UTC)
    [entry] = clock.manifest_entries([camera], t, t + timedelta(seconds=4))
    assert entry["clock"] == "clock not measurable (not an ONVIF camera)"


ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>{}</s:Body></s:Envelope>'
)


class _SettableClock(http.server.BaseHTTPRequestHandler):
    """A scripted camera whose clock is `offset` seconds off until SetSystemDateAndTime."""

    offset = -37.0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if "SetSystemDateAndTime" in body:
            type(self).offset = 0.0
            answer = "<tds:SetSystemDateAndTimeResponse/>"
        else:
            t = datetime.now(UTC) + timedelta(seconds=type(self).offset)
            answer = (
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false"
                "</tt:DaylightSavings><tt:UTCDateTime>"
                f"<tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute>"
                f"<tt:Second>{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}"
                f"</tt:Year><tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date>"
                "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
            )
        data = ENVELOPE.format(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def settable_camera(db):
    _SettableClock.offset = -37.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SettableClock)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Camera.objects.create(
        name="Settable",
        source=Camera.Source.ONVIF,
        host="127.0.0.1",
        onvif_port=server.server_address[1],
        username="admin",
        password="Clock-s3cret!",
        sync_clock=True,
    )
    server.shutdown()
    server.server_close()


def clock_entries(camera: Camera) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(camera_id=camera.pk, action=AuditEvent.Action.CAMERA_CHANGE)
    )


def test_a_camera_kept_in_sync_is_set_and_the_change_audited(settable_camera):
    reading = clock.measure_quietly(settable_camera)
    assert reading is not None and abs(reading.offset_seconds) <= reading.uncertainty_seconds + 0.5
    [entry] = clock_entries(settable_camera)
    assert entry.detail["change"] == "clock set" and entry.username == "system"
    old, new = entry.detail["changed"]["clock_offset_seconds"]
    assert -38.5 < old < -35.5 and abs(new) < 1.5
    assert "was 3" in entry.detail["changes"] and "slow" in entry.detail["changes"]
    assert "Clock-s3cret!" not in json.dumps(entry.detail)


def test_a_camera_not_kept_in_sync_is_only_measured(settable_camera):
    Camera.objects.filter(pk=settable_camera.pk).update(sync_clock=False)
    settable_camera.refresh_from_db()
    reading = clock.measure_quietly(settable_camera)
    assert reading is not None and reading.offset_seconds < -35
    assert clock_entries(settable_camera) == []


def test_a_camera_that_refuses_to_set_its_clock_is_audited_and_stays_measured(slow_camera, db):
    # ipycam answers SetSystemDateAndTime with a fault: a camera that refuses.
    camera = add(slow_camera)
    Camera.objects.filter(pk=camera.pk).update(sync_clock=True)
    camera.refresh_from_db()
    with slow_camera.netns():
        reading = clock.measure_quietly(camera)
    assert reading is not None and reading.offset_seconds < -35
    [entry] = [e for e in clock_entries(camera) if e.detail["change"] == "clock not set"]
    assert "refused" in entry.detail["changes"] and "slow" in entry.detail["changes"]
