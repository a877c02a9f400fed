"""Steps every kind of test uses: polling with a deadline, a user of a role logged in.

(Browser logins through the real form are tests/browser/helpers.py's `log_in`.)
"""

import os
import signal
import subprocess
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


def start_process(argv: list[str], **popen: Any) -> subprocess.Popen:
    """A box process (`record`, `qcluster`…) in a process group of its own, as its systemd unit
    is in a cgroup of its own, so that ending it ends what it started too: a Django-Q cluster's
    workers outlive a killed parent and would take the next test's tasks."""
    return subprocess.Popen(argv, start_new_session=True, **popen)


def stop_process(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGTERM to the process and wait (its clean stop is part of what is tested), then
    SIGKILL to whatever of its group is left; returns the process's exit status."""
    proc.terminate()
    try:
        proc.wait(timeout)
    finally:
        kill_process(proc)
    return proc.returncode


def kill_process(proc: subprocess.Popen) -> None:
    """kill -9 of the process and every process of its group."""
    _signal_group(proc, signal.SIGKILL)
    proc.wait(10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


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
