"""Clips on request in real headless Chromium: an investigator finds footage on the
where-and-when page, follows "request this window", sends the request (signed into a real
FerretDB ledger) and finds the job in the jobs list; the list fits a phone at 412 px."""

from datetime import timedelta

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from rtcc import roles
from rtcc.models import ClipJob
from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import log_in, wait_for
from tests.rtcc import conftest as rtcc_fixtures
from tests.rtcc.pagekit import (  # noqa: F401
    console_site,
    ingested,
    make_box,
    make_camera,
    make_clip_job,
    make_segment,
    make_user,
    now,
)

rtcc_ferretdb, rtcc_ledger = rtcc_fixtures.rtcc_ferretdb, rtcc_fixtures.rtcc_ledger
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_site"),
]


def test_request_a_clip_from_where_and_when_and_follow_it(browser, live_server, rtcc_ledger):
    t = now().replace(second=0)
    cam = make_camera(make_box("box-17"), 1, name="Main St")
    make_segment(cam, 1, t - timedelta(minutes=50))
    # Another job already uploading, with long words, to see the list at phone width.
    make_clip_job(
        "9" * 32,
        ClipJob.State.UPLOADING,
        box_id="box-17",
        camera="Main St",
        chunks_total=40,
        chunks_received=10,
        bytes_received=10 * 2**20,
        package_size=40 * 2**20,
        first_chunk_at=t - timedelta(seconds=40),
        progress_at=t,
    )
    ingested(t)
    make_user("investigator", roles.INVESTIGATOR)
    log_in(browser, live_server, "investigator", reverse("admin:login") + "?next=/where/")
    browser.find_element(By.CSS_SELECTOR, "#where-form input[type=submit]").click()
    link = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#where-box-17-1 a.where-request"),
        what="the camera's request link",
    )
    link[0].click()
    wait_for(lambda: browser.find_elements(By.ID, "clip-form"), what="the request form")
    assert browser.find_element(By.ID, "id_box").get_attribute("value") == "box-17"
    assert browser.find_element(By.ID, "id_camera").get_attribute("value") == "Main St"
    browser.find_element(By.ID, "id_case_number").send_keys("26-009999")
    browser.find_element(By.ID, "id_reason").send_keys("hit and run on Main St")
    browser.find_element(By.CSS_SELECTOR, "#clip-form input[type=submit]").click()
    state = wait_for(lambda: browser.find_elements(By.ID, "clip-state"), what="the job page")
    assert state[0].text.startswith("Queued: the box has not answered yet")
    job = ClipJob.objects.get(case_number="26-009999")
    assert job.user == "investigator" and job.end - job.start == timedelta(hours=1)
    assert rtcc_ledger["requests"].count_documents({"request": job.request}) == 1
    browser.find_element(By.LINK_TEXT, "Clips").click()
    row = wait_for(
        lambda: browser.find_elements(By.ID, f"clip-{job.request}"), what="the job in the list"
    )
    assert "26-009999" in row[0].text and "box-17 / Main St" in row[0].text
    # The list refreshes itself while a job is open: the upload moves on without a reload.
    browser.execute_script("document.body.dataset.marker = 'same page'")
    ClipJob.objects.filter(request="9" * 32).update(chunks_received=30, bytes_received=30 * 2**20)
    wait_for(
        lambda: "Uploading 75 %" in browser.find_element(By.ID, f"clip-{'9' * 32}").text,
        what="the upload's progress refreshed",
    )
    assert browser.execute_script("return document.body.dataset.marker") == "same page"
    # At phone width (412 px) the list fits: nothing wider than the window.
    browser.set_window_size(412, 915)
    wide = browser.execute_script("return document.documentElement.scrollWidth")
    assert wide <= browser.execute_script("return window.innerWidth"), wide
    assert screenshot_at_412(browser, "clips").exists()
    browser.get(live_server.url + job.get_absolute_url())
    assert screenshot_at_412(browser, "job").exists()


def screenshot_at_412(browser, name: str):
    """For a reviewer, like the `shoot` fixture's, at the width the console is checked at."""
    folder = ARTIFACTS / "test_request_a_clip_from_where_and_when_and_follow_it"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-412.png"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(412, min(max(915, height + 120), 4000))
    browser.save_screenshot(str(path))
    return path
