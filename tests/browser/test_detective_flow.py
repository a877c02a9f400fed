"""Done means: a detective who has never seen the box finds, watches and exports two minutes
of a camera for a case, on a phone, by the links on the pages alone (real Chromium)."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from recordings.evidence.export import run_export
from recordings.evidence.verify import verify_package
from recordings.models import Export
from tests.browser.helpers import log_in, make_user
from tests.factories import make_camera, make_segment
from tests.helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_find_watch_and_export_two_minutes_on_a_phone(browser, live_server, shoot):
    camera = make_camera("North gate", location="Main St and 5th Ave")
    make_segment(camera, datetime(2026, 11, 23, 18, 55, tzinfo=UTC), seconds=300)
    make_user("dana", "Investigator")
    browser.set_window_size(390, 844)
    log_in(browser, live_server, "dana")
    assert browser.current_url == live_server.url + reverse("recordings:index")  # Footage
    browser.execute_script("document.querySelector('input[name=date]').value = '2026-11-23'")
    browser.find_element(By.NAME, "time").send_keys("18:57")
    browser.find_element(By.CSS_SELECTOR, "input[value=Show]").click()
    play = wait_for(
        lambda: browser.find_elements(By.PARTIAL_LINK_TEXT, "Play from 18:57:00"), what="found"
    )[0]
    shoot("1-found", sizes=("phone",))
    play.click()
    clock = wait_for(
        lambda: (
            browser.find_elements(By.ID, "wallclock")
            and "18:57:00" in browser.find_element(By.ID, "wallclock").text
            and browser.find_element(By.ID, "wallclock").text
        ),
        what="the wall clock at 18:57:00",
    )
    assert clock == "2026-11-23 18:57:00 UTC"  # the zone named once
    shoot("2-watching", sizes=("phone",))
    browser.find_element(By.ID, "export-this").click()  # one minute either side
    wait_for(lambda: browser.find_elements(By.ID, "export-form"), what="export form")
    assert browser.find_element(By.NAME, "start_time").get_attribute("value") == "18:56:00"
    assert browser.find_element(By.NAME, "end_time").get_attribute("value") == "18:58:00"
    browser.find_element(By.NAME, "case_number").send_keys("26-004512")
    browser.find_element(By.NAME, "reason").send_keys("hit and run, Main St")
    shoot("3-export-form", sizes=("phone",))
    browser.find_element(By.CSS_SELECTOR, "input[value='Build package']").click()
    wait_for(lambda: browser.find_elements(By.ID, "export-rows"), what="exports list")
    export = Export.objects.get()
    run_export(export.pk)  # the cluster's part
    link = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "a.download"), what="ready")[0]
    shoot("4-ready", sizes=("phone",))
    link.click()
    export.refresh_from_db()
    target = browser.downloads / export.path
    wait_for(
        lambda: target.exists() and not list(browser.downloads.glob("*.crdownload")),
        what="package downloaded",
    )
    assert (export.end - export.start).total_seconds() == 120
    assert verify_package(target).ok
