"""Front page, landing per role, health page, the time and size filters."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from crimebox.display import box_time, box_window, human_size
from recordings import heartbeat
from tests.factories import make_camera, make_segment

T0 = datetime(2026, 11, 23, 18, 57, tzinfo=UTC)


def user_with(role=None, superuser=False):
    if superuser:
        return User.objects.create_superuser("boss", "b@example.org", "pw-boss-123")
    user = User.objects.create_user(role.lower().replace(" ", ""), password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.mark.parametrize(
    "role, target",
    [
        ("Investigator", "recordings:index"),
        ("Field technician", "admin:index"),
        ("Auditor", "admin:audit_auditevent_changelist"),
        ("Administrator", "admin:index"),
    ],
)
def test_login_lands_by_role(client, db, role, target):
    user = User.objects.create_user("pat", password="pw-pat-12345", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    page = client.get(reverse("admin:login"))
    assert b'name="next" value="/landing/"' in page.content
    response = client.post(
        reverse("admin:login"),
        {"username": "pat", "password": "pw-pat-12345", "next": "/landing/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse(target)


@pytest.mark.parametrize("role, target", [("Investigator", "recordings:index")])
def test_login_from_the_box_address_lands_by_role(client, db, role, target):
    """Opening `/` sends a person to /login/?next=/: that is no destination of theirs."""
    user = User.objects.create_user("pat", password="pw-pat-12345", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    first = client.get("/", follow=True)
    assert first.redirect_chain[-1][0] == reverse("admin:login") + "?next=/"
    assert b'name="next" value="/landing/"' in first.content
    response = client.post(
        reverse("admin:login") + "?next=/",
        {"username": "pat", "password": "pw-pat-12345", "next": "/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse(target)


def test_login_keeps_an_explicit_next(client, db):
    page = client.get(reverse("admin:login") + "?next=/footage/camera/1/")
    assert b'name="next" value="/footage/camera/1/"' in page.content


def test_front_page_status_panel_and_no_django_q(client, db):
    client.force_login(user_with(superuser=True))
    make_camera("North", location="Main St")
    response = client.get(reverse("admin:index"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="box-status"' in body
    assert "The recorder has not reported since the box started." in body
    heartbeat.beat(time.time())
    assert "The recorder last reported" in client.get(reverse("admin:index")).content.decode()
    assert "North" in body and "Main St" in body
    assert "app-django_q" not in body and "recent-actions-module" not in body
    assert "app-cameras" in body  # the administration links stay for a superuser
    sidebar = client.get(reverse("admin:cameras_camera_changelist")).content.decode()
    assert "app-django_q" not in sidebar and "app-cameras" in sidebar


def test_health_page_for_a_person_and_json_for_monitors(client, db):
    client.force_login(user_with("Field technician"))
    make_camera("North")
    page = client.get(reverse("console:health"))
    assert page["Content-Type"].startswith("text/html")
    assert b"Health of box" in page.content and b"North" in page.content
    assert client.get("/health")["Content-Type"] == "application/json"
    nav = client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("console:health")}">Health' in nav


def test_stills_for_investigators_and_technicians_only(client, db):
    camera = make_camera("North")
    make_segment(camera, timezone.now() - timedelta(minutes=5), seconds=2)
    url = reverse("console:still", args=[camera.pk])
    client.force_login(user_with("Auditor"))
    assert client.get(url).status_code == 403
    client.force_login(user_with("Field technician"))
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"


def test_times_name_their_zone_once(settings):
    settings.TIME_ZONE = "UTC"
    timezone.activate("UTC")
    assert box_time(T0) == "2026-11-23 18:57:00 UTC"
    assert box_window(T0, T0 + timedelta(minutes=2)) == "2026-11-23 18:57:00–18:59:00 UTC"
    timezone.activate("Europe/Berlin")
    try:
        assert box_time(T0) == "2026-11-23 19:57:00 CET (18:57:00 UTC)"
        assert box_window(T0, T0 + timedelta(minutes=2)) == (
            "2026-11-23 19:57:00–19:59:00 CET (18:57:00–18:59:00 UTC)"
        )
    finally:
        timezone.deactivate()


def test_human_sizes():
    assert human_size(28846236) == "28.8 MB"
    assert human_size(1_500_000_000) == "1.5 GB"
    assert human_size(512) == "512 bytes"
    assert human_size(None) == "—"


def test_front_page_shows_live_stills_to_who_may_watch_live(client, db):
    camera = make_camera("North")
    client.force_login(user_with("Field technician"))
    page = client.get(reverse("admin:index")).content.decode()
    assert reverse("live:still", args=[camera.pk]) in page
    client.force_login(user_with("Auditor"))
    page = client.get(reverse("admin:index")).content.decode()
    assert reverse("live:still", args=[camera.pk]) not in page
    assert reverse("console:still", args=[camera.pk]) not in page


def test_recent_changes_are_in_the_page_flow_not_floating(client, db):
    client.force_login(user_with(superuser=True))
    camera = make_camera("North")
    client.post(
        reverse("admin:cameras_camera_change", args=[camera.pk]),
        {
            "name": "North 2",
            "location": "",
            "is_enabled": "on",
            "main_stream_uri": camera.main_stream_uri,
        },
    )
    page = client.get(reverse("admin:index")).content.decode()
    assert "Your recent changes" in page and "North 2" in page
    assert "content-related" not in page  # the admin's floating side column


def test_no_page_has_an_inline_event_handler(client, db):
    """The CSP (script-src 'self') blocks inline handlers such as onerror=: each one is a console
    error on every load and a behaviour that silently does not happen."""
    import re

    client.force_login(user_with(superuser=True))
    camera = make_camera("North", location="Main St")
    make_segment(camera, timezone.now() - timedelta(minutes=5), seconds=2)
    for url in (
        reverse("admin:index"),
        reverse("admin:cameras_camera_changelist"),
        reverse("console:health"),
        reverse("recordings:index"),
    ):
        body = client.get(url).content.decode()
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", body), url
