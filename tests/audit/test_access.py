"""Access holes once found, tried through the real admin with the role
groups of audit/roles.py, as each role and anonymously."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse
from django_q.models import Schedule

from audit.models import AuditEvent
from cameras.models import Camera
from tests.factories import make_camera

PASSWORD = "correct-horse-42"
ROLES = ["Field technician", "Investigator", "Auditor", "Administrator"]
pytestmark = pytest.mark.django_db


def user(name, role=None, **kw):
    u = User.objects.create_user(name, password=PASSWORD, is_staff=True, **kw)
    if role:
        u.groups.add(Group.objects.get(name=role))
    return u


def as_role(client, role):
    u = user(role.split()[0].lower(), role)
    client.force_login(u)
    return u


# Item 4: the stored camera password is never rendered, to anyone.
@pytest.mark.parametrize("role", ROLES)
def test_camera_page_shows_only_whether_a_password_is_set(client, role):
    camera = make_camera("Gate", username="admin", password="cam-secret-9")
    other = make_camera("Yard", main_stream_uri="rtsp://127.0.0.1:8554/yard")
    as_role(client, role)
    page = client.get(reverse("admin:cameras_camera_change", args=[camera.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "cam-secret-9" not in html
    assert "set" in html.split("Password state")[1][:200]
    html = client.get(reverse("admin:cameras_camera_change", args=[other.pk])).content.decode()
    assert "not set" in html.split("Password state")[1][:200]


def test_anonymous_gets_the_login_page_not_the_camera(client):
    camera = make_camera("Gate", password="cam-secret-9")
    page = client.get(reverse("admin:cameras_camera_change", args=[camera.pk]))
    assert page.status_code == 302 and "/login/" in page.url


# Item 8: actions need the permission they exercise.
@pytest.mark.parametrize("role", ["Investigator", "Auditor"])
def test_view_only_roles_cannot_run_the_reprobe_action(client, role, monkeypatch):
    called = []
    monkeypatch.setattr("cameras.admin.reprobe", lambda camera: called.append(camera) or {})
    camera = make_camera("Gate", source=Camera.Source.ONVIF, host="127.0.0.1")
    as_role(client, role)
    url = reverse("admin:cameras_camera_changelist")
    assert b"reprobe_cameras" not in client.get(url).content
    response = client.post(url, {"action": "reprobe_cameras", "_selected_action": [camera.pk]})
    assert response.status_code in (200, 302) and called == []


def test_the_technician_may_reprobe(client, monkeypatch):
    called = []
    monkeypatch.setattr("cameras.admin.reprobe", lambda camera, **kw: called.append(camera) or {})
    camera = make_camera("Gate", source=Camera.Source.ONVIF, host="127.0.0.1")
    as_role(client, "Field technician")
    url = reverse("admin:cameras_camera_changelist")
    assert b"reprobe_cameras" in client.get(url).content
    client.post(url, {"action": "reprobe_cameras", "_selected_action": [camera.pk]})
    assert called == [camera]


@pytest.mark.parametrize("role", ["Field technician", "Auditor"])
def test_hold_actions_are_not_offered_without_the_hold_permission(client, role):
    as_role(client, role)
    for name in ("segment", "legalhold"):
        page = client.get(reverse(f"admin:recordings_{name}_changelist"))
        assert b"place_hold_action" not in page.content and b'value="release"' not in page.content


# Item 5: only superusers grant superuser, permissions or groups beyond one's own.
def user_form(target: User, **over) -> dict:
    data = {
        "username": target.username,
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": f"{target.date_joined:%Y-%m-%d}",
        "date_joined_1": f"{target.date_joined:%H:%M:%S}",
        "initial-date_joined_0": f"{target.date_joined:%Y-%m-%d}",
        "initial-date_joined_1": f"{target.date_joined:%H:%M:%S}",
    }
    return {**data, **over}


def test_an_administrator_cannot_make_itself_superuser(client):
    admin = as_role(client, "Administrator")
    url = reverse("admin:auth_user_change", args=[admin.pk])
    perm = Permission.objects.get(codename="add_schedule")
    client.post(url, user_form(admin, is_superuser="on", user_permissions=[perm.pk]))
    admin.refresh_from_db()
    assert not admin.is_superuser and not admin.user_permissions.exists()


def test_an_administrator_hands_out_roles_but_not_more(client):
    as_role(client, "Administrator")
    target = user("newbie")
    url = reverse("admin:auth_user_change", args=[target.pk])
    investigator = Group.objects.get(name="Investigator")
    client.post(url, user_form(target, groups=[investigator.pk]))
    assert list(target.groups.all()) == [investigator]
    powerful = Group.objects.create(name="Shell")
    powerful.permissions.add(Permission.objects.get(codename="add_schedule"))
    response = client.post(url, user_form(target, groups=[powerful.pk], is_superuser="on"))
    assert response.status_code == 200  # "not one of the available choices"
    target.refresh_from_db()
    assert list(target.groups.all()) == [investigator] and not target.is_superuser
    # Nor may it change what a role grants, nor touch a superuser's account.
    group_url = reverse("admin:auth_group_change", args=[investigator.pk])
    client.post(
        group_url, {"name": "Investigator", "permissions": [p.pk for p in Permission.objects.all()]}
    )
    assert not investigator.permissions.filter(codename="add_schedule").exists()
    boss = User.objects.create_superuser("boss", password=PASSWORD)
    client.post(reverse("admin:auth_user_change", args=[boss.pk]), user_form(boss, is_staff=""))
    boss.refresh_from_db()
    assert boss.is_staff
    password_url = reverse("admin:auth_user_password_change", args=[boss.pk])
    client.post(password_url, {"password1": "taken-over-123", "password2": "taken-over-123"})
    boss.refresh_from_db()
    assert not boss.check_password("taken-over-123")


def test_a_superuser_still_grants_superuser(client):
    client.force_login(User.objects.create_superuser("boss", password=PASSWORD))
    target = user("deputy")
    client.post(
        reverse("admin:auth_user_change", args=[target.pk]), user_form(target, is_superuser="on")
    )
    target.refresh_from_db()
    assert target.is_superuser


def test_django_q_admin_creates_no_schedule_even_for_a_superuser(client):
    client.force_login(User.objects.create_superuser("boss", password=PASSWORD))
    add = reverse("admin:django_q_schedule_add")
    assert client.get(add).status_code == 403
    client.post(add, {"name": "pwn", "func": "os.system", "args": "'id'", "schedule_type": "O"})
    assert not Schedule.objects.filter(func="os.system").exists()
    schedule = Schedule.objects.create(name="x", func="math.floor", schedule_type="O")
    change = reverse("admin:django_q_schedule_change", args=[schedule.pk])
    client.post(change, {"name": "x", "func": "os.system", "schedule_type": "O"})
    schedule.refresh_from_db()
    assert schedule.func == "math.floor"
    assert client.get(reverse("admin:django_q_schedule_changelist")).status_code == 200
    failures = client.get(reverse("admin:django_q_failure_changelist")).content
    assert b"resubmit" not in failures.lower()


def test_every_admin_change_is_audited(client):
    client.force_login(User.objects.create_superuser("boss", password=PASSWORD))
    target = user("deputy")
    client.post(
        reverse("admin:auth_user_change", args=[target.pk]), user_form(target, is_superuser="on")
    )
    event = AuditEvent.objects.filter(action=AuditEvent.Action.USER_CHANGE).get()
    assert "Superuser status" in str(event.detail) and event.username == "boss"
    from django.contrib.admin.models import ADDITION, LogEntry

    LogEntry.objects.log_actions(
        User.objects.get(username="boss").pk,
        [Schedule.objects.create(name="s", func="math.floor")],
        ADDITION,
        single_object=True,
    )
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.ADMIN_CHANGE, detail__model="django_q.Schedule"
    ).exists()


# Item 9: the lockout counts the name the login form normalises to.
def test_lockout_is_not_bypassed_with_a_lookalike_name(client, settings):
    settings.LOGIN_MAX_FAILURES = 3
    user("tech")
    login = reverse("admin:login")
    for _ in range(3):
        client.post(login, {"username": "tech", "password": "nope"}, REMOTE_ADDR="10.0.0.1")
    response = client.post(
        login, {"username": "ｔｅｃｈ", "password": PASSWORD}, REMOTE_ADDR="10.0.0.2"
    )
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


def test_adding_a_person_is_one_page_with_the_role_to_give(client):
    """Name, role and password on one page: the new person can log in with that role at once,
    no separate Staff status box to remember and no second page of raw permissions."""
    as_role(client, "Administrator")
    add = reverse("admin:auth_user_add")
    page = client.get(add).content.decode()
    assert 'name="role"' in page and "Investigator" in page
    assert 'name="is_staff"' not in page and 'name="user_permissions"' not in page
    response = client.post(
        add,
        {
            "username": "det.jones",
            "first_name": "Dana",
            "last_name": "Jones",
            "role": Group.objects.get(name="Investigator").pk,
            "usable_password": "true",
            "password1": "a-long-passphrase-77",
            "password2": "a-long-passphrase-77",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:auth_user_changelist")
    new = User.objects.get(username="det.jones")
    assert new.is_staff and not new.is_superuser and new.first_name == "Dana"
    assert [g.name for g in new.groups.all()] == ["Investigator"]
    assert client.login(username="det.jones", password="a-long-passphrase-77")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_CHANGE).exists()


def test_the_add_page_offers_only_roles_the_adder_may_give(client):
    as_role(client, "Administrator")
    powerful = Group.objects.create(name="Shell")
    powerful.permissions.add(Permission.objects.get(codename="add_schedule"))
    add = reverse("admin:auth_user_add")
    assert "Shell" not in client.get(add).content.decode()
    response = client.post(
        add,
        {"username": "mallory", "role": powerful.pk, "usable_password": "false"},
    )
    assert response.status_code == 200 and not User.objects.filter(username="mallory").exists()
