"""Real headless Chromium against the live server: log in, browse, play and seek, export."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from selenium.webdriver.common.by import By

from recordings.evidence.verify import verify_package
from recordings.models import Export
from tests.factories import make_camera, make_segment
from tests.helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "inv-pass-2026"


@pytest.fixture
def investigator(db):
    user = User.objects.create_user("ines", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Investigator"))
    return user


def log_in(browser, live_server):
    browser.get(live_server.url + reverse("admin:login"))
    browser.find_element(By.NAME, "username").send_keys("ines")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(
        lambda: "Log out" in browser.page_source or "logout" in browser.page_source,
        what="logged in",
    )


def test_browse_play_seek_and_download(browser, live_server, investigator):
    start = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
    camera = make_camera("North")
    segment = make_segment(camera, start, seconds=20)
    log_in(browser, live_server)
    browser.get(live_server.url + reverse("recordings:index"))
    browser.find_element(By.LINK_TEXT, "North").click()
    browser.get(live_server.url + reverse("recordings:day", args=[camera.pk, "2026-11-23"]))
    bar = browser.find_element(By.CSS_SELECTOR, "#timeline a.segment")
    browser.get(bar.get_attribute("href"))
    video = browser.find_element(By.ID, "player")
    wait_for(
        lambda: browser.execute_script("return arguments[0].readyState", video) >= 1,
        what="metadata",
    )
    duration = browser.execute_script("return arguments[0].duration", video)
    assert duration == pytest.approx(segment.duration, abs=0.2)  # needs Range to be right
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    wait_for(
        lambda: browser.execute_script("return arguments[0].currentTime", video) > 0.2,
        what="playing",
    )
    browser.execute_script("arguments[0].currentTime = arguments[0].duration / 2", video)
    wait_for(
        lambda: not browser.execute_script("return arguments[0].seeking", video), what="seeked"
    )
    now = browser.execute_script("return arguments[0].currentTime", video)
    assert 9.5 <= now <= 12.5
    assert browser.execute_script("return arguments[0].error", video) is None

    browser.find_element(By.LINK_TEXT, "Download original").click()
    target = browser.downloads / f"{camera.slug}-{segment.abs_path.name}"
    wait_for(
        lambda: target.exists() and not list(browser.downloads.glob("*.crdownload")),
        what="download",
    )
    assert hashlib.sha256(target.read_bytes()).hexdigest() == segment.sha256


def test_export_through_the_console_and_download(browser, live_server, investigator, monkeypatch):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
    start = datetime(2026, 11, 23, 14, 5, tzinfo=UTC)
    camera = make_camera("North")
    make_segment(camera, start, seconds=6)
    make_segment(camera, start + timedelta(seconds=6), seconds=6)
    log_in(browser, live_server)
    browser.get(live_server.url + reverse("admin:recordings_export_add"))  # → console form
    browser.find_element(By.CSS_SELECTOR, "input[name=cameras]").click()
    browser.execute_script(  # what the date pickers leave in the form
        "document.querySelector('input[name=start_date]').value = '2026-11-23';"
        "document.querySelector('input[name=end_date]').value = '2026-11-23';"
    )
    for name, value in [
        ("start_time", "14:05:02"),
        ("end_time", "14:05:10"),
        ("case_number", "26-004512"),
        ("reason", "hit and run"),
    ]:
        field = browser.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "input[value='Build package']").click()
    link = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "a.download"), what="download link"
    )[0]
    link.click()
    export = Export.objects.get()
    target = browser.downloads / export.path
    wait_for(
        lambda: target.exists() and not list(browser.downloads.glob("*.crdownload")),
        what="package downloaded",
    )
    assert hashlib.sha256(target.read_bytes()).hexdigest() == export.sha256
    assert verify_package(target).ok


def test_jump_to_a_time_and_play_from_it(browser, live_server, investigator):
    camera = make_camera("North")
    make_segment(camera, datetime(2026, 11, 23, 14, 4, 40, tzinfo=UTC), seconds=30)
    log_in(browser, live_server)
    browser.get(live_server.url + reverse("recordings:day", args=[camera.pk, "2026-11-23"]))
    browser.execute_script(  # what typing into the date and time pickers leaves in the form
        "document.querySelector('input[name=date]').value = '2026-11-23';"
        "document.querySelector('input[name=time]').value = '14:05';"
    )
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value=Go]").click()
    play = wait_for(
        lambda: browser.find_elements(By.PARTIAL_LINK_TEXT, "Play from 14:05:00"),
        what="the moment found",
    )[0]
    assert "hour=14" in browser.current_url
    play.click()
    video = wait_for(lambda: browser.find_elements(By.ID, "player"), what="player")[0]
    wait_for(
        lambda: browser.execute_script("return arguments[0].readyState", video) >= 1,
        what="metadata",
    )
    start = browser.execute_script("return arguments[0].currentTime", video)
    assert start == pytest.approx(20.0, abs=0.5)  # 14:05:00 is 20 s into the segment
