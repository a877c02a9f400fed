"""Real Chromium: each role lands where its work is; the front page at laptop and phone width."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from selenium.webdriver.common.by import By

from tests.browser.helpers import log_in, make_user
from tests.factories import make_camera, make_segment
from tests.helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cameras(db):
    north = make_camera("North gate", location="Corner of Main Street and 5th Avenue, pole 12")
    make_segment(north, timezone.now() - timedelta(minutes=20), seconds=4)
    make_camera("Alley", status="offline", last_error="Connection refused (10.0.0.7:554)")
    return north


@pytest.mark.parametrize(
    "role, lands_on, heading",
    [
        ("Investigator", "recordings:index", "Footage"),
        ("Field technician", "admin:index", "at a glance"),
        ("Auditor", "admin:audit_auditevent_changelist", "Audit trail"),
    ],
)
def test_each_role_lands_where_its_work_is(
    browser, live_server, cameras, shoot, role, lands_on, heading
):
    make_user("pat", role)
    log_in(browser, live_server, "pat")
    assert browser.current_url == live_server.url + reverse(lands_on)
    assert heading in browser.find_element(By.TAG_NAME, "h1").text
    shoot("landing")


def test_front_page_shows_cameras_and_health_in_words(browser, live_server, cameras, shoot):
    make_user("tech", "Field technician")
    log_in(browser, live_server, "tech")
    status = browser.find_element(By.ID, "box-status")
    assert "The recorder has not reported" in status.text
    assert "GB free of" in status.text
    card = browser.find_element(By.ID, f"camera-{cameras.pk}")
    img = card.find_element(By.CSS_SELECTOR, "img.still")
    wait_for(
        lambda: browser.execute_script("return arguments[0].naturalWidth", img) > 0, what="still"
    )
    assert "Last segment" in card.text or "Recording since" in card.text
    assert "Connection refused" in browser.find_element(By.ID, "cameras").text
    location = card.find_element(By.CSS_SELECTOR, ".location")
    for size in ("laptop", "phone"):
        shoot("front", sizes=(size,))
    browser.set_window_size(390, 844)
    line = browser.execute_script(
        "return parseFloat(getComputedStyle(arguments[0]).lineHeight)", location
    )
    assert location.size["height"] < 2 * line  # one line, not eight


def test_superuser_sidebar_has_no_django_q_and_health_is_a_page(
    browser, live_server, cameras, shoot
):
    make_user("boss", superuser=True)
    log_in(browser, live_server, "boss")
    assert browser.current_url == live_server.url + reverse("admin:index")
    browser.get(live_server.url + reverse("admin:cameras_camera_changelist"))
    sidebar = browser.find_element(By.ID, "nav-sidebar")
    assert "Cameras" in sidebar.get_attribute("textContent")
    assert "Django Q" not in sidebar.get_attribute("textContent")
    assert not browser.find_elements(By.ID, "recent-actions-module")
    browser.find_element(By.LINK_TEXT, "Health").click()
    wait_for(lambda: "Health of box" in browser.find_element(By.TAG_NAME, "h1").text, what="page")
    assert "application/json" not in browser.page_source
    assert "North gate" in browser.find_element(By.ID, "content").text
    shoot("health")


@pytest.mark.parametrize(
    "role, page", [("Investigator", "recordings:index"), ("Field technician", "admin:index")]
)
def test_a_still_that_cannot_be_had_is_hidden_not_broken(browser, live_server, cameras, role, page):
    """Alley has no footage and no snapshot: its still 404s. The page hides it (no broken
    image icon) under the box's CSP, which blocks inline onerror= handlers."""
    from cameras.models import Camera

    alley = Camera.objects.get(name="Alley")
    make_user("pat", role)
    log_in(browser, live_server, "pat", reverse(page))
    img = browser.find_element(By.CSS_SELECTOR, f"#camera-{alley.pk} img")
    wait_for(
        lambda: browser.execute_script("return arguments[0].style.visibility", img) == "hidden",
        what="the broken still hidden",
    )
    north = browser.find_element(By.CSS_SELECTOR, f"#camera-{cameras.pk} img")
    wait_for(lambda: browser.execute_script("return arguments[0].naturalWidth", north) > 0)
    assert browser.execute_script("return arguments[0].style.visibility", north) == ""


def overflow(browser, selector: str) -> float:
    """How far (px) the table's last cells reach past the window's right edge (0: none)."""
    return browser.execute_script(
        "var right = 0; document.querySelectorAll(arguments[0]).forEach(function (e) {"
        "  right = Math.max(right, e.getBoundingClientRect().right); });"
        "return Math.max(0, right - document.documentElement.clientWidth);",
        selector,
    )


def test_lists_that_matter_fit_their_screen(browser, live_server, cameras, shoot):
    """Exports at 412 px (Status and Download zip on screen), cameras and the audit trail at
    1400 px (every column on screen), with the long texts a real box has."""
    from audit import log
    from audit.models import AuditEvent
    from recordings.models import Export

    make_camera(
        "Transit center east entrance",
        location="Intersection of Martin Luther King Jr Boulevard and North Market Street, pole 4",
        status="offline",
        last_error="Could not connect to rtsp://10.20.30.40:554/Streaming/Channels/101: timed out",
    )
    for i in range(3):
        log.record(
            AuditEvent.Action.VIEW,
            username="investigator.longname",
            target=f"segment {i} of Transit center east entrance at 2026-11-23 14:05:00 UTC",
            camera=cameras,
        )
    export = Export.objects.create(
        case_number="26-004512",
        reason="Hit and run at Main Street and 5th Avenue, silver sedan heading north " * 2,
        start=timezone.now() - timedelta(minutes=10),
        end=timezone.now() - timedelta(minutes=5),
        status=Export.Status.DONE,
        size=123_456_789,
    )
    export.cameras.add(cameras)
    make_user("boss", superuser=True)
    log_in(browser, live_server, "boss")
    browser.set_window_size(1400, 900)
    for page in ("admin:cameras_camera_changelist", "admin:audit_auditevent_changelist"):
        browser.get(live_server.url + reverse(page))
        widths = browser.execute_script(  # which column is wide, in the failure message
            "return Array.from(document.querySelectorAll('#result_list thead th')).map("
            "function (e) { return e.className + ':' + e.getBoundingClientRect().width; });"
        )
        assert overflow(browser, "#result_list td, #result_list th") <= 1, " ".join(widths)
        shoot(page.split(":")[1], sizes=("laptop",))
    browser.set_window_size(412, 915)
    browser.get(live_server.url + reverse("console:exports"))
    for cell in ("#exports td.status", "#exports a.download"):
        assert overflow(browser, cell) <= 1, cell
    shoot("exports", sizes=("phone",))
