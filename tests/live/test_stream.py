"""live/stream.py: what FFmpeg said last is read whole once it has exited (a join, not a nap)."""

import pytest

from live.stream import Stream
from tests.factories import make_camera
from tests.recordings.conftest import free_port

pytestmark = pytest.mark.django_db


def test_the_exit_message_has_ffmpegs_last_line_and_the_reader_is_done():
    camera = make_camera(main_stream_uri=f"rtsp://127.0.0.1:{free_port()}/cam")  # refused
    stream = Stream(camera, now=0)
    stream.proc.wait(30)
    message = stream.exit_message()
    assert not stream.reader.is_alive()  # every line FFmpeg wrote was taken
    assert "reach" in message.lower() or "refused" in message.lower(), message
