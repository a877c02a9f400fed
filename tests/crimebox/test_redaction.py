"""The redaction helpers, directly: every credential-bearing text passes through them."""

import pytest

from crimebox.redaction import redact, redact_text, redact_url, with_credentials


@pytest.mark.parametrize(
    "url,expected",
    [
        ("rtsp://admin:s3cret@10.0.0.5:554/Streaming/101", "rtsp://10.0.0.5:554/Streaming/101"),
        ("rtsp://admin@cam.local/live?x=1#f", "rtsp://cam.local/live?x=1#f"),
        ("rtsp://:pw@10.0.0.5/a", "rtsp://10.0.0.5/a"),
        ("rtsp://u:p%40ss@[fe80::1]:8554/s", "rtsp://[fe80::1]:8554/s"),
        ("http://u:p@cam/onvif/device_service", "http://cam/onvif/device_service"),
        ("rtsp://10.0.0.5:554/live", "rtsp://10.0.0.5:554/live"),  # nothing to remove
        ("", ""),
    ],
)
def test_redact_url_removes_the_userinfo_only(url, expected):
    assert redact_url(url) == expected


def test_redact_text_removes_credentials_of_every_url_in_free_text():
    text = (
        "rtsp://admin:hunter22@10.0.0.5:554/a: 401 Unauthorized; "
        "retry http://op:pa55@cam.local/snap.jpg failed\nmongodb://sync:m0ngo@rtcc:27017/db"
    )
    out = redact_text(text)
    for secret in ("hunter22", "pa55", "m0ngo", "admin:", "op:", "sync:"):
        assert secret not in out
    assert "rtsp://10.0.0.5:554/a: 401 Unauthorized" in out
    assert "http://cam.local/snap.jpg" in out and "mongodb://rtcc:27017/db" in out
    assert redact_text("no url here: user@example.org") == "no url here: user@example.org"
    assert redact_text(None) == ""


def test_redact_replaces_secrets_as_typed_and_as_url_quoted():
    password = "p@ss:wörd/1"
    quoted = "p%40ss%3Aw%C3%B6rd%2F1"
    text = f"auth failed for {password}; url rtsp://10.0.0.5/x?pw={quoted}; rtsp://a:{quoted}@h/"
    out = redact(text, password)
    assert password not in out and quoted not in out and "%40ss" not in out
    assert out.count("***") == 2 and "rtsp://h/" in out
    assert redact("", password) == "" and redact(None, password) is None
    assert redact("the key is abc", "", None) == "the key is abc"


def test_redact_leaves_short_secrets_alone_only_when_asked():
    assert redact("a bad login", "bad", min_length=4) == "a bad login"
    assert redact("a bad login", "bad") == "a *** login"
    assert redact("password 12345 echoed", "12345", min_length=4) == "password *** echoed"


def test_with_credentials_quotes_them_and_redact_url_takes_them_out_again():
    url = with_credentials("rtsp://10.0.0.5:554/live", "ad min", "p@ss:w/rd")
    assert url == "rtsp://ad%20min:p%40ss%3Aw%2Frd@10.0.0.5:554/live"
    assert redact_url(url) == "rtsp://10.0.0.5:554/live"
    # Credentials already in the URL are replaced, never doubled.
    assert with_credentials("rtsp://old:pw@h/s", "new", "") == "rtsp://new@h/s"
    assert with_credentials("rtsp://h/s", "", "ignored") == "rtsp://h/s"
    assert with_credentials("", "u", "p") == ""


@pytest.mark.django_db
def test_a_camera_redacts_its_own_password_and_any_url_credentials():
    from tests.factories import make_camera

    camera = make_camera("Gate", username="admin", password="Gate&Key 9")
    line = (
        "rtsp://admin:Gate%26Key%209@10.0.0.5/s: method DESCRIBE failed; "
        "server said Gate&Key 9 is wrong"
    )
    out = camera.redact(line)
    assert "Gate&Key 9" not in out and "Gate%26Key%209" not in out and "admin" not in out
    assert out == "rtsp://10.0.0.5/s: method DESCRIBE failed; server said *** is wrong"
    camera.set_status(camera.Status.OFFLINE, error=line)
    camera.refresh_from_db()
    assert camera.last_error == out


def test_stream_label_is_one_format():
    from cameras.models import stream_label
    from cameras.onvif import Profile, profile_label

    assert stream_label("H264", 1920, 1080, 25.0) == "H264 1920x1080 @ 25 fps"
    assert stream_label("", None, None, 12.5) == "? @ 12.5 fps"
    assert stream_label("H265", None, None, None, "unknown size") == "H265 unknown size"
    profile = Profile(token="p0", name="", encoding="H264", width=640, height=360, fps=15)
    assert profile.label() == "p0 (H264 640x360 @ 15 fps)"
    assert profile_label({"token": "t", "name": "Sub", "encoding": None}) == "Sub (? unknown size)"


def test_a_datacenter_uri_s_secrets_are_out_as_written_and_decoded():
    from crimebox.redaction import redact_with_uri

    uri = "mongodb://box%2D7:p%40ss@10.0.0.5/"
    message = "auth failed for box-7 with p@ss and p%40ss at mongodb://box%2D7:p%40ss@10.0.0.5/"
    out = redact_with_uri(message, uri)
    assert "p@ss" not in out and "p%40ss" not in out and "box-7" not in out
    assert "mongodb://***@10.0.0.5/" in out
