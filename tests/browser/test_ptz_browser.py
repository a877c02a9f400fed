"""PTZ controls in real headless Chromium against a real ONVIF camera (ipycam): press, hold,
release, keyboard, touch, and losing the page. The web server and Chromium run inside the
camera's network namespace (a thread's namespace is inherited by the threads and processes it
starts), so the box's PTZ requests reach the camera as on a pole."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connections
from django.test.testcases import LiveServerThread
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from audit.models import AuditEvent
from cameras import ptz
from cameras.models import Camera
from cameras.services import add_onvif_camera
from tests.browser.conftest import new_browser
from tests.browser.helpers import log_in, make_user
from tests.cameras.conftest import onvif_camera  # noqa: F401  (the camera fixture)
from tests.cameras.test_ptz_onvif import position
from tests.helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class _Server:
    def __init__(self, url: str):
        self.url = url


@contextmanager
def server_and_browser(peer, tmp_path) -> Iterator[tuple[_Server, object]]:
    with peer.netns():
        conns = {
            c.alias: c for c in connections.all()
            if c.vendor == "sqlite" and c.is_in_memory_db()
        }  # fmt: skip
        for c in conns.values():
            c.inc_thread_sharing()
        thread = LiveServerThread("127.0.0.1", StaticFilesHandler, conns, port=0)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        browser = new_browser(tmp_path)
        try:
            yield _Server(f"http://127.0.0.1:{thread.port}"), browser
        finally:
            browser.quit()
            thread.terminate()
            for c in conns.values():
                c.dec_thread_sharing()


def moving(camera: Camera) -> bool:
    return Camera.objects.get(pk=camera.pk).ptz_move_until is not None


def moves(camera: Camera) -> list[str]:
    entries = AuditEvent.objects.filter(action=AuditEvent.Action.PTZ, camera_id=camera.pk)
    return [e.detail["to"] for e in entries.order_by("sequence")]


def test_press_hold_release_keyboard_touch_and_blur(onvif_camera, tmp_path, monkeypatch):  # noqa: F811
    # The box's deadman would stop an abandoned move after 1.5 s; here it waits 60 s, so every
    # stop below is the page's own.
    monkeypatch.setattr(ptz, "MOVE_SECONDS", 60)
    make_user("olga", "Operator")
    with onvif_camera.netns():
        camera = add_onvif_camera(
            "Pole 7", onvif_camera.host, onvif_camera.port, onvif_camera.username,
            onvif_camera.password,
        )  # fmt: skip
    with server_and_browser(onvif_camera, tmp_path) as (server, browser):
        log_in(browser, server, "olga")
        browser.get(f"{server.url}/live/{camera.pk}/")
        right = browser.find_element(By.CSS_SELECTOR, ".ptz-move[data-dir=right]")
        wait_for(lambda: "Nobody steers" in browser.find_element(By.ID, "ptz-state").text,
                 what="the presets loaded")  # fmt: skip

        # mouse: press and hold keeps it turning past the keep-alive period, release stops
        _, before = position(onvif_camera, "start")
        ActionChains(browser).click_and_hold(right).perform()
        wait_for(lambda: moving(camera), what="the move")
        wait_for(lambda: position(onvif_camera, "p")[1] != before, what="the camera turning")
        ActionChains(browser).release().perform()
        wait_for(lambda: not moving(camera), what="stop on release")
        _, after = position(onvif_camera, "after")
        assert position(onvif_camera, "again")[1] == after  # it stands still

        # keyboard: arrow key down moves, key up stops
        up = browser.find_element(By.CSS_SELECTOR, ".ptz-move[data-dir=up]")
        ActionChains(browser).move_to_element(up).perform()
        browser.execute_script("arguments[0].focus()", up)
        ActionChains(browser).key_down(Keys.ARROW_UP).perform()
        wait_for(lambda: moving(camera), what="the keyboard move")
        ActionChains(browser).key_up(Keys.ARROW_UP).perform()
        wait_for(lambda: not moving(camera), what="stop on key up")

        # touch: finger down moves, finger up stops (one gesture: down, hold 1 s, up)
        zoom = browser.find_element(By.CSS_SELECTOR, ".ptz-move[data-dir=in]")
        touch = ActionBuilder(browser, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"))
        touch.pointer_action.move_to(zoom).pointer_down().pause(1).pointer_up()
        touch.perform()
        wait_for(lambda: "moved by hand (in)" in moves(camera), what="the touch move")
        wait_for(lambda: not moving(camera), what="stop on finger up")

        # the page loses focus while the button is held: it stops without a release
        ActionChains(browser).click_and_hold(right).perform()
        wait_for(lambda: moving(camera), what="the second move")
        browser.switch_to.new_window("tab")
        wait_for(lambda: not moving(camera), what="stop when the page loses focus")

    assert moves(camera) == [
        "moved by hand (right)",
        "moved by hand (up)",
        "moved by hand (in)",
        "moved by hand (right)",
    ]


def test_an_investigator_sees_no_controls(onvif_camera, tmp_path):  # noqa: F811
    make_user("ines", "Investigator")
    with onvif_camera.netns():
        camera = add_onvif_camera(
            "Pole 7", onvif_camera.host, onvif_camera.port, onvif_camera.username,
            onvif_camera.password,
        )  # fmt: skip
    with server_and_browser(onvif_camera, tmp_path) as (server, browser):
        log_in(browser, server, "ines")
        browser.get(f"{server.url}/live/{camera.pk}/")
        wait_for(lambda: browser.find_elements(By.ID, "live-facts"), what="the player")
        assert browser.find_elements(By.ID, "ptz") == []
