"""Real Chromium, as a field technician: the camera list (stills, one-line locations), a
test-pattern camera's page and the add forms with aligned labels."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from selenium.webdriver.common.by import By

from cameras.models import Camera
from tests.browser.helpers import log_in, make_user
from tests.factories import make_camera, make_segment
from tests.helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
LOCATION = "Corner of Main Street and 5th Avenue, north-east pole 12, facing the bus stop"


@pytest.fixture
def cameras(db):
    north = make_camera("North gate", location=LOCATION)
    make_segment(north, timezone.now() - timedelta(minutes=5), seconds=2)
    pattern = make_camera("Pattern", source=Camera.Source.TEST_PATTERN, main_stream_uri="")
    make_user("tom", "Field technician")
    return north, pattern


def test_camera_list_stills_and_one_line_locations(browser, live_server, cameras, shoot):
    north, _ = cameras
    log_in(browser, live_server, "tom")
    browser.get(live_server.url + reverse("admin:cameras_camera_changelist"))
    img = browser.find_element(By.CSS_SELECTOR, "img.camera-still")
    wait_for(lambda: browser.execute_script("return arguments[0].naturalWidth", img), what="still")
    location = browser.find_element(By.CSS_SELECTOR, "#result_list .location")
    line = browser.execute_script(
        "return parseFloat(getComputedStyle(arguments[0]).lineHeight)", location
    )
    assert location.size["height"] < 2 * line
    assert location.get_attribute("title") == LOCATION
    shoot("camera-list")


def test_test_pattern_page_and_aligned_add_forms(browser, live_server, cameras, shoot):
    _, pattern = cameras
    log_in(browser, live_server, "tom")
    browser.get(live_server.url + reverse("admin:cameras_camera_change", args=[pattern.pk]))
    assert not browser.find_elements(By.NAME, "onvif_port")
    assert not browser.find_elements(By.NAME, "host")
    shoot("test-pattern-camera")
    browser.get(live_server.url + reverse("admin:cameras_camera_add_rtsp"))
    browser.set_window_size(1400, 900)
    lefts = {
        browser.execute_script("return Math.round(arguments[0].getBoundingClientRect().left)", el)
        for el in browser.find_elements(
            By.CSS_SELECTOR, "fieldset.aligned input:not([type=hidden])"
        )
    }
    assert len(lefts) == 1, lefts  # every input starts at the same x: labels are aligned
    shoot("add-rtsp")
