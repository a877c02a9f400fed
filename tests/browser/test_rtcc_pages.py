"""The RTCC console's pages in real headless Chromium: the fleet map drawn by the vendored
Leaflet (markers per state, tooltips, a click to the box), no request leaving the console
unless a tile server is configured, and the box and where-and-when pages as a person sees them."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from rtcc import roles
from rtcc.models import Alert, Box
from tests.browser.helpers import log_in
from tests.helpers import wait_for
from tests.rtcc.pagekit import (  # noqa: F401
    console_site,
    ingested,
    make_beat,
    make_box,
    make_camera,
    make_gap,
    make_segment,
    make_user,
    now,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_site"),
]

STATES = {
    "recording": Box.State.RECORDING,
    "degraded": Box.State.DEGRADED,
    "dark": Box.State.DARK,
    "never_seen": Box.State.NEVER_SEEN,
}


def city() -> None:
    """Two boxes per state, each with two cameras a few hundred metres apart."""
    t = now()
    for i, (word, state) in enumerate(sorted(STATES.items()) * 2):
        box = make_box(f"{word}-{i}", state=state)
        camera_state = "recording" if word == "recording" else "not_recording"
        if word == "dark":
            camera_state = "dark"
        for c in (1, 2):
            cam = make_camera(
                box,
                c,
                lat=f"41.{880 + i * 3 + c}",
                lon=f"-87.{630 + i * 2}",
                state=camera_state,
                name=f"Corner {i}.{c}",
            )
            make_segment(cam, 1, t - timedelta(hours=2))
    make_box("waiting", enrolment=Box.Enrolment.PENDING)
    ingested(t)


def resource_origins(browser) -> set[str]:
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat([document.location.href])"
    )
    return {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls}


def open_fleet(browser, live_server) -> None:
    make_user("operator", roles.OPERATOR)
    browser.set_window_size(1400, 900)  # the map on screen: pointer actions do not scroll
    log_in(browser, live_server, "operator", reverse("admin:login") + "?next=/")
    wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#fleet-map[data-ready]"),
        what="the map drawn",
    )


def test_fleet_map_markers_tooltips_and_nothing_off_the_console(browser, live_server, shoot):
    city()
    open_fleet(browser, live_server)
    for word in STATES:
        boxes = browser.find_elements(By.CSS_SELECTOR, f"path.rtcc-marker-box.marker-{word}")
        assert len(boxes) == 2, word
    cameras = browser.find_elements(By.CSS_SELECTOR, "path.rtcc-marker-camera")
    assert len(cameras) == 16
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.rtcc-marker-camera.marker-dark")) == 4
    assert not browser.find_elements(By.CSS_SELECTOR, ".leaflet-tile")  # no tiles configured
    marker = browser.find_element(By.CSS_SELECTOR, "path.rtcc-marker-box.marker-dark")
    ActionChains(browser).move_to_element(marker).perform()
    tip = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip"), what="tip")
    assert tip[0].text.startswith("dark-") and tip[0].text.endswith(": Dark")
    box_id = tip[0].text.split(":")[0]
    shoot("fleet")
    assert resource_origins(browser) == {live_server.url}
    marker.click()
    wait_for(lambda: f"/boxes/{box_id}/" in browser.current_url, what="the box page")
    assert browser.find_element(By.ID, "box-state").text == "Dark"


def test_fleet_list_sorts_by_clicking_its_headers(browser, live_server):
    city()
    open_fleet(browser, live_server)
    first = browser.find_element(By.CSS_SELECTOR, "#fleet-list tbody tr")
    assert first.get_attribute("id").startswith("box-dark-")
    browser.find_element(By.CSS_SELECTOR, "a.sort-box").click()
    wait_for(lambda: "sort=box" in browser.current_url, what="sorted by box")
    rows = browser.find_elements(By.CSS_SELECTOR, "#fleet-list tbody tr")
    ids = [r.get_attribute("id") for r in rows]
    assert ids == sorted(ids) and len(ids) == 8


def test_tiles_come_from_the_configured_server_only(browser, live_server, settings):
    settings.RTCC_TILE_URL = "http://127.0.0.2:9/tiles/{z}/{x}/{y}.png"  # nothing listens there
    city()
    open_fleet(browser, live_server)
    tiles = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "img.leaflet-tile"), what="tiles asked for"
    )
    assert all(t.get_attribute("src").startswith("http://127.0.0.2:9/tiles/") for t in tiles)
    wait_for(lambda: "http://127.0.0.2:9" in resource_origins(browser), what="a tile request")
    assert resource_origins(browser) == {live_server.url, "http://127.0.0.2:9"}
    # The map still works with its tile server unreachable.
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.rtcc-marker-box")) == 8


def test_box_and_where_pages_as_a_person_sees_them(browser, live_server, shoot):
    t = now().replace(second=0)
    box = make_box(
        "box-17",
        zerotier_address="a1b2c3d4e5",
        software="crimebox 1.4",
        health={"zerotier_ips": ["10.147.17.9"]},
    )
    cam = make_camera(box, 1, model="DS-2CD2143", firmware_version="V5.7.3", name="Main St")
    for i in range(8):
        make_segment(
            cam,
            i + 1,
            t - timedelta(hours=3) + timedelta(minutes=15 * i),
            verification="verified" if i else "unlinked",
        )
    make_gap(cam, 1, t - timedelta(hours=1), t - timedelta(minutes=40), "power_loss")
    for i in range(144):
        make_beat(
            box,
            t - timedelta(minutes=10 * i),
            i,
            cpu_temp_millic=50000 + (i % 12) * 900,
            throttled=i in (20, 21),
            disk_free=(40 - i // 10) * 10**9,
        )
    Alert.objects.create(kind="power", box=box, key="p", message="Throttled at 12:10")
    ingested(t)
    make_user("investigator", roles.INVESTIGATOR)
    log_in(browser, live_server, "investigator", reverse("admin:login") + "?next=/boxes/box-17/")
    assert "DS-2CD2143" in browser.find_element(By.ID, "box-cameras").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#box-charts svg.rtcc-chart")) == 7
    shoot("box")
    browser.find_element(By.LINK_TEXT, "Where and when").click()
    start = browser.find_element(By.ID, "id_start")
    start.clear()
    browser.execute_script(
        "arguments[0].value = arguments[1]", start, f"{t - timedelta(hours=4):%Y-%m-%dT%H:%M}"
    )
    browser.find_element(By.CSS_SELECTOR, "#where-form input[type=submit]").click()
    summary = wait_for(lambda: browser.find_elements(By.ID, "where-summary"), what="results")
    assert summary[0].text.startswith("1 camera with footage")
    assert f"{1:064x}" in browser.find_element(By.CSS_SELECTOR, ".where-segments").text
    shoot("where")
    assert resource_origins(browser) == {live_server.url}


# A wedge's centre relative to its camera's dot, as the page drew them (screen pixels, y down),
# and the compass bearing (0 north, 90 east) of that offset.
WEDGE_GEOMETRY = """
const centre = r => [(r.left + r.right) / 2, (r.top + r.bottom) / 2];
const dots = [...document.querySelectorAll("path.rtcc-marker-camera")];
const far = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1]);
return [...document.querySelectorAll("path.rtcc-wedge")].map(w => {
  const apex = centre(w.ownerSVGElement.getBoundingClientRect());
  const near = dots.map(d => centre(d.getBoundingClientRect()));
  const dot = near.sort((a, b) => far(a, apex) - far(b, apex))[0];
  const [x, y] = centre(w.getBoundingClientRect());
  return {camera: w.dataset.camera, apex_to_dot: far(dot, apex),
          bearing: (Math.atan2(x - dot[0], dot[1] - y) * 180 / Math.PI + 360) % 360,
          reach: Math.hypot(x - dot[0], y - dot[1])};
});
"""


def test_fleet_map_draws_each_cameras_facing(browser, live_server, shoot):
    box = make_box("box-1")
    for c, facing in enumerate((0, 90, 180, 270, 45), start=1):
        make_camera(
            box, c, lat=f"41.{880 + c * 4}", lon=f"-87.{630 + c * 3}", facing_degrees=facing
        )
    make_camera(box, 9, lat="41.870", lon="-87.620")  # facing not known: a dot only
    ingested(now())
    open_fleet(browser, live_server)
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.rtcc-marker-camera")) == 6
    drawn = {w["camera"]: w for w in browser.execute_script(WEDGE_GEOMETRY)}
    assert sorted(drawn) == [f"box-1/{c}" for c in range(1, 6)]  # none for camera 9
    for c, facing in enumerate((0, 90, 180, 270, 45), start=1):
        wedge = drawn[f"box-1/{c}"]
        assert wedge["apex_to_dot"] < 1.5, wedge  # the wedge starts at its camera
        assert wedge["reach"] > 8, wedge  # and points away from it...
        off = abs((wedge["bearing"] - facing + 180) % 360 - 180)
        assert off < 3, wedge  # ...towards the camera's facing
    shoot("fleet-facing")
    assert resource_origins(browser) == {live_server.url}


def test_where_and_when_boxes_picked_on_the_map(browser, live_server, shoot):
    t = now()
    for i, word in enumerate(("north", "middle", "south")):
        box = make_box(f"box-{word}")
        for c in (1, 2):
            # Two cameras either side of their box's dot, so the box's own dot is clickable.
            cam = make_camera(
                box,
                c,
                lat=f"41.{900 - i * 20}",
                lon=f"-87.{630 + (c * 2 - 3) * 4}",
                facing_degrees=90,
            )
            make_segment(cam, 1, t - timedelta(minutes=40))
    ingested(t)
    make_user("investigator", roles.INVESTIGATOR)
    browser.set_window_size(1400, 900)
    log_in(browser, live_server, "investigator", reverse("admin:login") + "?next=/where/")
    element = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#where-map[data-ready]"), what="the map"
    )[0]
    assert element.get_attribute("data-picked") == ""

    def click(marker_id: str) -> None:
        browser.find_element(By.CSS_SELECTOR, f'path.rtcc-marker[data-id="{marker_id}"]').click()

    click("box-north")
    click("box-middle")
    click("box-middle")  # a second click puts it back
    click("box-south/2")  # a camera's dot picks its box
    wait_for(lambda: element.get_attribute("data-picked") == "box-north,box-south", what="picked")
    picked = browser.find_elements(By.CSS_SELECTOR, "#id_boxes option:checked")
    assert [o.get_attribute("value") for o in picked] == ["box-north", "box-south"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.rtcc-picked")) == 6  # boxes + cameras
    assert "Picked: box-north, box-south." in browser.find_element(By.ID, "where-picked").text
    shoot("where-picked")
    browser.find_element(By.CSS_SELECTOR, "#where-form input[type=submit]").click()
    summary = wait_for(lambda: browser.find_elements(By.ID, "where-summary"), what="results")
    assert summary[0].text.startswith("4 cameras with footage")
    shown = {s.get_attribute("id") for s in browser.find_elements(By.CSS_SELECTOR, ".where-camera")}
    assert shown == {f"where-box-{w}-{c}" for w in ("north", "south") for c in (1, 2)}
    # The picked boxes stay picked on the results page, on the map as in the list.
    element = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "#where-map[data-ready]"), what="the map"
    )[0]
    assert element.get_attribute("data-picked") == "box-north,box-south"
    assert resource_origins(browser) == {live_server.url}
