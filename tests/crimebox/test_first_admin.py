"""The first start makes an administrator with a one-time password that must be changed."""

import re

from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from crimebox.first_admin import pending_file


def init_box() -> str:
    from io import StringIO

    out = StringIO()
    call_command("init_box", "--no-test-pattern", stdout=out)
    return out.getvalue()


def test_first_start_prints_a_one_time_password_once(db, client):
    out = init_box()
    password = re.search(r"password:\s+(\S+)", out)[1]
    assert len(password) >= 16
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert password not in pending_file().read_text()  # only its hash is kept
    assert pending_file().stat().st_mode & 0o777 == 0o600
    assert "password" not in init_box()  # a second start creates and prints nothing
    assert User.objects.count() == 1

    response = client.post(
        reverse("admin:login"), {"username": "admin", "password": password}, follow=True
    )
    change = reverse("admin:password_change")
    assert response.redirect_chain[-1][0] == change
    # Every page leads to the change form until the password has changed.
    assert client.get("/").url == change
    assert client.get(reverse("recordings:index")).url == change
    assert client.get(change).status_code == 200
    # "Changed" to itself: refused, and the change is still required.
    same = {"old_password": password, "new_password1": password, "new_password2": password}
    response = client.post(change, same)
    assert response.status_code == 200 and "must differ" in response.content.decode()
    assert client.get("/").url == change
    new = "correct horse battery staple 17"
    response = client.post(
        change, {"old_password": password, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302, response.content
    assert client.get("/").status_code == 200
    assert not pending_file().exists()
    client.logout()
    assert not client.login(username="admin", password=password)


def test_no_first_admin_when_one_exists(db):
    User.objects.create_superuser("chief", password="x-long-pass-phrase")
    assert "password" not in init_box()
    assert not User.objects.filter(username="admin").exists()
