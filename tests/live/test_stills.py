"""Grid stills: ONVIF snapshot (HTTP Basic, a real local server), live frame, recorded frame."""

import base64
import http.server
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest

from crimebox.display import box_time
from live import stills
from live.stream import explain_exit
from recordings.evidence import fmp4
from recordings.index import open_segment, segment_dir
from tests.factories import make_camera, make_media, make_segment

pytestmark = pytest.mark.django_db
JPEG = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"


@pytest.fixture
def snapshot_server():
    """A camera's snapshot endpoint: HTTP Basic op:s3cret, like ipycam's."""
    token = base64.b64encode(b"op:s3cret").decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.headers.get("Authorization") != f"Basic {token}":
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="cam"')
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()
            self.wfile.write(JPEG)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/snapshot.jpg"
    server.shutdown()


def test_snapshot_uri_with_the_cameras_credentials(snapshot_server):
    camera = make_camera(
        "Snap", host="127.0.0.1", snapshot_uri=snapshot_server, username="op", password="s3cret"
    )
    assert stills.still(camera) == JPEG
    assert stills.still_source(camera) == "camera snapshot"


def test_wrong_snapshot_password_falls_back_to_the_newest_segment(snapshot_server):
    camera = make_camera(
        "Snap", host="127.0.0.1", snapshot_uri=snapshot_server, username="op", password="wrong"
    )
    make_segment(camera, datetime(2026, 11, 24, 14, 0, tzinfo=UTC))
    data = stills.still(camera)
    assert data.startswith(b"\xff\xd8") and data != JPEG  # a real JPEG of the segment


def test_live_frame_from_the_newest_live_segment(live_dir, tmp_path):
    camera = make_camera("Live")
    source = make_media(tmp_path / "src.mp4", seconds=3, size="640x360")
    folder = live_dir / camera.slug
    folder.mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source), "-c", "copy", "-f", "hls", "-hls_time", "1",
         "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
         "-hls_segment_filename", str(folder / "seg%06d.m4s"), str(folder / "index.m3u8")],
        check=True,
    )  # fmt: skip
    assert stills.live_frame(camera).startswith(b"\xff\xd8")


def test_the_newest_recorded_frame_and_its_time(tmp_path):
    """A camera without snapshot or live stream: the grid shows the newest recorded picture,
    not the first frame of the newest segment, and says when it was recorded."""
    camera = make_camera("Pattern")
    start = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    make_segment(camera, start, seconds=4)  # 1 s GOPs: keyframes at +0, +1, +2, +3 s
    assert stills.still(camera).startswith(b"\xff\xd8")
    assert (
        stills.still_source(camera)
        == f"recorded {box_time(start + timedelta(seconds=3), '%H:%M:%S')}"
    )


def test_the_newest_frame_of_the_segment_being_recorded(tmp_path):
    camera = make_camera("Pattern")
    start = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    make_segment(camera, start - timedelta(seconds=4), seconds=4)
    path = segment_dir(camera, start) / f"{start:%Y%m%dT%H%M%SZ}.mp4"
    make_media(path, seconds=4)
    last = fmp4.read_movie(path).fragments[-1]
    with path.open("r+b") as f:
        f.truncate(last.offset + len(last.moof) + 100)  # FFmpeg is writing the fourth GOP
    open_segment(camera, path, start)
    data = stills.still(camera)
    assert data.startswith(b"\xff\xd8")
    assert (
        stills.still_source(camera)
        == f"recorded {box_time(start + timedelta(seconds=2), '%H:%M:%S')}"
    )
    media, seconds = fmp4.newest_keyframe(path)
    assert seconds == 2 and stills.jpeg_of(media) == data


def test_no_picture_at_all():
    camera = make_camera("Empty")
    assert stills.still(camera) is None
    assert stills.still_source(camera) == "no picture yet"


@pytest.mark.parametrize(
    "lines, code, words",
    [
        (["[rtsp @ 0x1] method SETUP failed: 503 Service Unavailable"], 1, "refused another"),
        (["method DESCRIBE failed: 401 Unauthorized"], 1, "user name or password"),
        (["method DESCRIBE failed: 404 Not Found"], 1, "no stream at this URL"),
        (["rtsp://cam/sub: Connection refused"], 1, "Cannot reach"),
        ([], 0, "stopped sending"),
        (["Invalid data found when processing input"], 1, "FFmpeg stopped: Invalid data"),
    ],
)
def test_explain_exit(lines, code, words):
    assert words in explain_exit(lines, code)
