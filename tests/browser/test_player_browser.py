"""Real Chromium, as an investigator: play on across segments and a gap with the wall-clock
time on screen, then "Export this" → the prefilled form → the list refreshing to a download."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from audit.models import AuditEvent
from recordings.evidence.export import run_export
from recordings.models import Export, Gap
from tests.browser.helpers import log_in, make_user, wait_for
from tests.factories import close_viewings, make_camera, make_segment

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
T0 = datetime(2026, 11, 23, 17, 57, tzinfo=UTC)  # 18:57 in Berlin


@pytest.fixture
def footage(db, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    camera = make_camera("North gate")
    a = make_segment(camera, T0, seconds=4)
    make_segment(camera, T0 + timedelta(seconds=4), seconds=4)
    Gap.objects.create(
        camera=camera,
        start=T0 + timedelta(seconds=8),
        end=T0 + timedelta(seconds=14),
        cause=Gap.Cause.CAMERA_UNREACHABLE,
    )
    make_segment(camera, T0 + timedelta(seconds=14), seconds=4)
    make_user("ines", "Investigator")
    return camera, a


def player_state(browser):
    return browser.execute_script(
        "const p = window.consolePlayer; return p && {index: p.index(), "
        "notice: document.getElementById('player-notice').textContent, "
        "clock: document.getElementById('wallclock').textContent, "
        "t: document.getElementById('player').currentTime}"
    )


def test_plays_on_across_segments_and_a_gap_with_the_wall_clock(
    browser, live_server, footage, shoot
):
    camera, first = footage
    log_in(browser, live_server, "ines")
    browser.get(live_server.url + reverse("recordings:player", args=[first.pk]) + "?t=2")
    wait_for(lambda: player_state(browser), what="player script")
    clock = wait_for(lambda: player_state(browser)["clock"], what="readout")
    assert clock.startswith("2026-11-23 18:57:0") and "CET · 17:57:0" in clock and "UTC" in clock
    shoot("player-start")
    browser.execute_script(
        "const v = document.getElementById('player'); v.muted = true; v.playbackRate = 2; v.play();"
    )
    wait_for(lambda: player_state(browser)["index"] == 1, what="second segment")
    state = wait_for(
        lambda: (s := player_state(browser))["index"] == 2 and s["t"] > 0.3 and s,
        what="third segment, after the gap",
    )
    assert "No footage 18:57:08 CET–18:57:14 CET (Camera unreachable)" in state["notice"]
    assert "playing on from 18:57:14" in state["notice"]
    assert "18:57:1" in state["clock"] and "17:57:1" in state["clock"]  # on screen: after 14 s
    assert reverse("recordings:player", args=[first.pk + 2]) in browser.current_url
    shoot("player-after-gap")
    played = wait_for(
        lambda: (
            # Each viewing's entry is written once it is over; end them all now.
            close_viewings() >= 0
            and (
                t := set(AuditEvent.objects.filter(action="play").values_list("target", flat=True))
            )
            == {f"segment {first.pk + i}" for i in range(3)}
            and t
        ),
        what="every segment played in the audit trail",
    )
    assert played


def test_scrubber_click_in_empty_time_says_so(browser, live_server, footage):
    camera, first = footage
    log_in(browser, live_server, "ines")
    browser.get(live_server.url + reverse("recordings:player", args=[first.pk]))
    scrub = wait_for(lambda: browser.find_elements(By.ID, "scrubber"), what="scrubber")[0]
    wait_for(lambda: player_state(browser), what="player script")
    # 03:00 of the day: nothing recorded then; the player says so and shows the next footage.
    browser.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "arguments[0].dispatchEvent(new MouseEvent('click', "
        "{clientX: r.left + r.width * 3 / 24, clientY: r.top + 5, bubbles: true}));",
        scrub,
    )
    state = wait_for(lambda: player_state(browser)["notice"], what="notice")
    assert re.match(r"No footage at 0[23]:\d\d:\d\d CET \(nothing recorded\)", state), state
    assert "showing the next footage, from 18:57:00 CET" in state


def test_export_this_from_the_player_to_a_download(browser, live_server, footage, shoot):
    camera, first = footage
    log_in(browser, live_server, "ines")
    browser.get(live_server.url + reverse("recordings:player", args=[first.pk]))
    wait_for(lambda: player_state(browser), what="player script")
    seek = "window.consolePlayer.seekTo(Date.parse(arguments[0]));"
    browser.execute_script(seek, "2026-11-23T17:57:01Z")
    wait_for(lambda: player_state(browser)["t"] == pytest.approx(1, abs=0.1), what="seek")
    browser.find_element(By.ID, "mark-start").click()
    browser.execute_script(seek, "2026-11-23T17:57:16Z")
    wait_for(lambda: player_state(browser)["index"] == 2, what="seek into the third segment")
    wait_for(lambda: player_state(browser)["t"] == pytest.approx(2, abs=0.1), what="seek")
    browser.find_element(By.ID, "mark-end").click()
    assert "18:57:01 CET – 18:57:16 CET" in browser.find_element(By.ID, "window-text").text
    shoot("player-marked")
    browser.find_element(By.ID, "export-this").click()
    wait_for(lambda: browser.find_elements(By.ID, "export-form"), what="export form")
    form = browser.find_element(By.ID, "export-form")
    assert browser.find_element(By.NAME, "start_time").get_attribute("value") == "18:57:01"
    assert browser.find_element(By.NAME, "end_time").get_attribute("value") == "18:57:16"
    assert browser.find_element(By.CSS_SELECTOR, "input[name=cameras]").is_selected()
    browser.find_element(By.NAME, "case_number").send_keys("26-004512")
    browser.find_element(By.NAME, "reason").send_keys("hit and run on Main St")
    shoot("export-form")
    form.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.ID, "export-rows"), what="exports list")
    assert len(browser.find_elements(By.CSS_SELECTOR, "ul.messagelist li")) == 1
    export = Export.objects.get()
    assert browser.find_elements(By.CSS_SELECTOR, f"#export-{export.pk}")
    assert not browser.find_elements(By.CSS_SELECTOR, "a.download")
    run_export(export.pk)  # what the cluster does; the page refreshes its rows by itself
    link = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "a.download"), what="link")[0]
    row = browser.find_element(By.ID, f"export-{export.pk}").text
    for text in ("North gate", "26-004512", "hit and run", "ines", " MB"):
        assert text in row
    shoot("exports-ready")
    link.click()
    export.refresh_from_db()
    target = browser.downloads / export.path
    wait_for(
        lambda: target.exists() and not list(browser.downloads.glob("*.crdownload")),
        what="package downloaded",
    )


def test_hour_scrubber_seeks_to_the_second(browser, live_server, footage, shoot):
    camera, first = footage
    long = make_segment(camera, T0 + timedelta(seconds=60), seconds=60)  # 18:58:00–18:59:00
    log_in(browser, live_server, "ines")
    browser.get(live_server.url + reverse("recordings:player", args=[first.pk]))
    wait_for(lambda: player_state(browser), what="player script")
    zoom = browser.find_element(By.ID, "zoom")
    assert browser.find_element(By.ID, "zoom-from").text == "18:00"
    assert browser.find_element(By.ID, "zoom-to").text == "18:59"
    browser.execute_script(  # 18:58:30 CET in the hour 18:00–19:00 (a pixel is ~4 s)
        "const r = arguments[0].getBoundingClientRect();"
        "arguments[0].dispatchEvent(new MouseEvent('click', {clientX: r.left + r.width * "
        "(58 * 60 + 30) / 3600, clientY: r.top + 5, bubbles: true}));",
        zoom,
    )
    state = wait_for(
        lambda: (s := player_state(browser))["index"] == 3 and s["t"] > 1 and s,
        what="seek into the long segment",
    )
    assert state["t"] == pytest.approx(30, abs=5)
    assert "18:58:" in state["clock"]
    assert reverse("recordings:player", args=[long.pk]) in browser.current_url
    shoot("hour-scrubber", sizes=("laptop",))
