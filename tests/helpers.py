"""Steps every kind of test uses: polling with a deadline, a user of a role logged in.

(Browser logins through the real form are tests/browser/helpers.py's `log_in`.)
"""

import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group, User
from django.test import Client


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    step: float = 0.1,
    tick: Callable[[], object] | None = None,
    what: str = "condition",
) -> Any:
    """Poll `predicate` (calling `tick` before each poll) until it returns something true,
    and return that; fail after `timeout` seconds. Never a bare sleep in a test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def login(client: Client, role: str, username: str = "") -> User:
    """A staff user in `role`'s group (named after the role unless told), logged in on the
    test `client` without the login form."""
    name = username or role.split()[0].lower()
    user = User.objects.create_user(name, password="x-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def logged_in(role: str, username: str = "") -> Client:
    """A new test client with a user of `role` logged in (for tests with several people)."""
    client = Client()
    login(client, role, username)
    return client
