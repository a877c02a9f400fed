"""Shared steps of the browser tests: users per role, a real login through the form."""

from django.contrib.auth.models import Group, User
from django.urls import reverse
from selenium.webdriver.common.by import By

from tests.helpers import wait_for

PASSWORD = "role-pass-2026"


def make_user(username: str, role: str | None = None, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.org", PASSWORD)
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def log_in(browser, live_server, username: str, path: str = "") -> None:
    """Through the login form, as a person does; waits for the page it lands on."""
    browser.get(live_server.url + (path or reverse("admin:login")))
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(lambda: browser.find_elements(By.ID, "logout-form"), what="logged in")
