"""The footage pages answer bad dates and times with a clear message or 404, never a server
error (13 URLs once gave 500)."""

import pytest
from django.contrib.auth.models import Group, User

from tests.factories import make_camera

pytestmark = pytest.mark.django_db


@pytest.fixture
def investigator(client):
    user = User.objects.create_user("ines", password="x-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Investigator"))
    client.force_login(user)
    client.raise_request_exception = False  # a 500 is an answer here, not a test error
    return client


def url(camera, text):
    return text.replace("CAM", str(camera.pk))


@pytest.mark.parametrize(
    "path",
    [
        "/footage/?date=2026-02-30",
        "/footage/?date=2026-13-01",
        "/footage/?date=9999-12-31&time=2359",
        "/footage/?date=0001-01-01&time=0000",
        "/footage/?time=²²²²",
        "/footage/?time=٢٣٥٩",
        "/footage/camera/CAM/?date=2026-02-30&time=1200",
        "/footage/camera/CAM/?date=9999-12-31&time=2359",
        "/footage/camera/CAM/?time=²²²²",
        "/footage/camera/CAM/2026-02-30/",
        "/footage/camera/CAM/0001-01-01/",
        "/footage/camera/CAM/9999-12-31/",
        "/footage/camera/CAM/2026-11-23/?hour=²",
        "/footage/camera/CAM/2026-11-23/?hour=18&at=²²²²",
        "/footage/camera/CAM/2026-02-30/playlist.json",
        "/footage/camera/CAM/9999-12-31/playlist.json",
    ],
)
def test_no_server_error(investigator, path):
    camera = make_camera("North")
    response = investigator.get(url(camera, path), follow=True)
    assert response.status_code in (200, 404), response.status_code


def test_a_bad_date_on_the_index_says_so(investigator):
    page = investigator.get("/footage/?date=2026-02-30").content.decode()
    assert "&#x27;2026-02-30&#x27; is not a day the box can have footage of" in page


def test_a_bad_day_in_the_path_is_a_404(investigator):
    camera = make_camera("North")
    assert investigator.get(f"/footage/camera/{camera.pk}/2026-02-30/").status_code == 404
    assert investigator.get(f"/footage/camera/{camera.pk}/2026-11-23/?hour=²").status_code == 404


def test_a_hold_posted_with_an_impossible_time_is_a_message(investigator):
    camera = make_camera("North")
    response = investigator.post(
        f"/footage/camera/{camera.pk}/2026-11-23/",
        {"start": "9999-12-31T23:59:59", "end": "9999-12-31T23:59:59", "reason": "r"},
        follow=True,
    )
    assert response.status_code == 200
