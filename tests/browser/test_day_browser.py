"""Real Chromium, as an investigator: select a window on a day's timeline and export or hold
it; the segment, gap and hold lists fit a laptop (1400 px) and a phone."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from recordings.holds import place_hold
from recordings.models import Gap, LegalHold
from tests.browser.helpers import log_in, make_user
from tests.factories import make_camera, make_segment
from tests.helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture
def camera(db):
    camera = make_camera("North gate", location="Corner of Main Street and 5th Avenue, pole 12")
    for i in range(3):
        make_segment(camera, T0 + timedelta(minutes=20 * i), seconds=4)
    Gap.objects.create(
        camera=camera,
        start=T0 + timedelta(minutes=30),
        end=T0 + timedelta(minutes=35),
        cause=Gap.Cause.CAMERA_UNREACHABLE,
        detail="rtsp://10.0.0.7:554/stream1: Connection timed out after 10 s " * 6,
    )
    place_hold(
        camera, T0, T0 + timedelta(minutes=2), "robbery at the corner " * 12, case_number="26-1"
    )
    make_user("ines", "Investigator")
    return camera


def drag(browser, element, from_fraction, to_fraction):
    width = element.size["width"]
    ActionChains(browser).move_to_element_with_offset(
        element, int(width * (from_fraction - 0.5)), 0
    ).click_and_hold().move_by_offset(
        int(width * (to_fraction - from_fraction)), 0
    ).release().perform()


def test_select_on_the_hour_timeline_then_export_or_hold(browser, live_server, camera, shoot):
    log_in(browser, live_server, "ines")
    url = reverse("recordings:day", args=[camera.pk, "2026-11-23"])
    browser.get(live_server.url + url + "?hour=18&at=1820")
    timeline = browser.find_element(By.ID, "timeline")
    assert browser.find_element(By.ID, "moment-mark").is_displayed()
    drag(browser, timeline, 0.25, 0.5)  # 18:15 to 18:30
    text = wait_for(lambda: browser.find_element(By.ID, "selection-text").text, what="selected")
    # "start – end" in the box's zone, each within a minute of the drag's ends (pixel rounding)
    assert re.fullmatch(r"2026-11-23 18:1[456]:\d\d – 18:(29|30|31):\d\d", text), text
    shoot("day-selected")
    assert "recordings/segment" not in browser.current_url  # the drag did not open the player
    browser.find_element(By.ID, "hold-selection").click()
    start = browser.find_element(By.NAME, "start").get_attribute("value")
    assert start.startswith("2026-11-23 18:1")
    browser.find_element(By.NAME, "reason").send_keys("suspect seen")
    browser.find_element(By.CSS_SELECTOR, "#hold-form input[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "ul.messagelist li"), what="held")
    hold = LegalHold.objects.filter(reason="suspect seen").get()
    assert hold.start.minute in (14, 15, 16) and hold.end.minute in (29, 30, 31)
    browser.get(live_server.url + url + "?hour=18")
    drag(browser, browser.find_element(By.ID, "timeline"), 0.3, 0.45)
    browser.find_element(By.ID, "export-selection").click()
    wait_for(lambda: browser.find_elements(By.ID, "export-form"), what="export form")
    assert browser.find_element(By.NAME, "start_time").get_attribute("value").startswith("18:1")
    assert browser.find_element(By.CSS_SELECTOR, "input[name=cameras]").is_selected()


@pytest.mark.parametrize("name", ["segment", "gap", "legalhold"])
def test_lists_fit_a_laptop_and_a_phone(browser, live_server, camera, shoot, name):
    log_in(browser, live_server, "ines")
    browser.get(live_server.url + reverse(f"admin:recordings_{name}_changelist"))
    for width in (1400, 390):
        browser.set_window_size(width, 900)
        overflow = browser.execute_script(
            "const r = document.querySelector('#result_list');"
            "return r.getBoundingClientRect().right - document.documentElement.clientWidth;"
        )
        if width == 1400:
            assert overflow <= 0, f"{name} list cut off by {overflow} px at 1400 px"
    shoot(f"{name}-list")
