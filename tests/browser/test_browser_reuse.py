"""The browser fixture shares one Chromium per module: each test must still get it as new."""

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from tests.browser.conftest import forget
from tests.browser.helpers import log_in, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_browser_handed_on_is_logged_out_with_empty_storage(browser, live_server):
    make_user("ines", "Investigator")
    log_in(browser, live_server, "ines")
    browser.execute_script("localStorage.setItem('left', 'behind')")
    browser.set_window_size(390, 844)
    forget(browser)
    assert browser.get_cookies() == []
    browser.get(live_server.url + reverse("admin:index"))
    assert browser.find_elements(By.NAME, "password")  # the login form, not the admin
    assert browser.execute_script("return localStorage.getItem('left')") is None
    assert browser.get_window_size() == browser.first_size
