"""Every role against every console page: who gets the page, who gets a 403, who is sent to the
login; the login is the box's throttled one and every sign-in is in the audit trail."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from rtcc import roles
from tests.rtcc.pagekit import (  # noqa: F401
    PASSWORD,
    ROLE_USERS,
    console_site,
    make_box,
    make_ready_job,
    make_user,
)

pytestmark = pytest.mark.usefixtures("console_site")

JOB = "0123456789abcdef" * 2
PAGES = {
    "fleet": ("rtcc:fleet", []),
    "box": ("rtcc:box", ["box-1"]),
    "where": ("rtcc:where", []),
    "alerts": ("rtcc:alerts", []),
    "enrolment": ("rtcc:enrolment", []),
    "clips": ("rtcc:clips", []),
    "clip": ("rtcc:clip", [JOB]),
    "clip_request": ("rtcc:clip_request", []),
    "clip_download": ("rtcc:clip_download", [JOB]),
    "users": ("admin:auth_user_changelist", []),
    "audit": ("admin:audit_auditevent_changelist", []),
}
# Who may open what (docs/rtcc.md, "Roles"); every other pair is a 403.
ALLOWED = {
    "operator": {"fleet", "box", "alerts", "clips", "clip"},
    "investigator": {
        "fleet",
        "box",
        "alerts",
        "where",
        "clips",
        "clip",
        "clip_request",
        "clip_download",
    },
    "administrator": {"fleet", "box", "alerts", "enrolment", "users", "clips", "clip"},
    "auditor": {"fleet", "box", "audit"},
    "nobody": set(),
}


@pytest.fixture
def clients(db):
    make_box("box-1")
    make_ready_job(JOB)
    out = {}
    for name, role in ROLE_USERS.items():
        make_user(name, role)
        client = Client()
        client.force_login(User.objects.get(username=name))
        out[name] = client
    return out


@pytest.mark.parametrize("who", sorted(ALLOWED))
def test_every_role_against_every_page(clients, who):
    for page, (name, args) in PAGES.items():
        status = clients[who].get(reverse(name, args=args)).status_code
        expected = 200 if page in ALLOWED[who] else 403
        assert status == expected, f"{who} on {page}: {status}"


@pytest.mark.parametrize("who", sorted(ALLOWED))
def test_only_investigators_may_cancel_a_clip(clients, who):
    # A finished job: an investigator gets the answer "nothing to cancel", nothing is sent.
    status = clients[who].post(reverse("rtcc:clip_cancel", args=[JOB])).status_code
    assert status == (302 if who == "investigator" else 403), f"{who}: {status}"


@pytest.mark.django_db
def test_strangers_are_sent_to_the_login(client):
    for name, args in PAGES.values():
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302 and "/login/" in response["Location"], name


@pytest.mark.django_db
def test_roles_hold_exactly_their_permissions():
    from django.contrib.auth.models import Group

    for role, perms in roles.ROLES.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held == set(perms)
    # The box's groups are other groups (the test suite runs both in one database).
    assert not set(roles.ROLES) & {"Investigator", "Auditor", "Administrator"}


@pytest.mark.django_db
def test_login_lands_by_role_and_is_audited(client):
    make_user("investigator", roles.INVESTIGATOR)
    form = client.get(reverse("login"))
    landing = reverse("rtcc:landing")
    assert f'name="next" value="{landing}"'.encode() in form.content
    response = client.post(
        reverse("login"), {"username": "investigator", "password": PASSWORD, "next": landing}
    )
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == reverse("rtcc:fleet")
    assert AuditEvent.objects.filter(action="login", username="investigator").exists()


@pytest.mark.django_db
def test_login_is_throttled_after_repeated_failures(client, settings):
    settings.LOGIN_MAX_FAILURES = 3
    make_user("operator", roles.OPERATOR)
    for _ in range(3):
        client.post(reverse("login"), {"username": "operator", "password": "wrong-wrong-1"})
    refused = client.post(reverse("login"), {"username": "operator", "password": PASSWORD})
    assert refused.status_code == 200 and b"Too many failed logins" in refused.content
    assert AuditEvent.objects.filter(action="login_failed", username="operator").count() == 4


@pytest.mark.django_db
def test_pages_carry_the_box_protections(clients):
    response = clients["operator"].get(reverse("rtcc:fleet"))
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
