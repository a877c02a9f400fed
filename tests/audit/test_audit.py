from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit import log
from audit.models import AuditEvent
from tests.factories import make_camera

PASSWORD = "correct-horse-42"


def make_user(name, role=None, **kw):
    user = User.objects.create_user(name, password=PASSWORD, is_staff=True, **kw)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def post_login_form(client, username, password=PASSWORD, ip="10.147.17.9"):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


@pytest.mark.django_db
def test_roles_exist_with_their_permissions():
    tech, inv, auditor = (
        make_user("t", "Field technician"),
        make_user("i", "Investigator"),
        make_user("a", "Auditor"),
    )
    assert tech.has_perm("cameras.change_camera")
    assert not tech.has_perm("recordings.view_footage")
    assert not tech.has_perm("recordings.view_segment")
    assert inv.has_perm("recordings.view_footage") and inv.has_perm("recordings.export_footage")
    assert not inv.has_perm("audit.view_auditevent")
    assert auditor.has_perm("audit.view_auditevent")
    assert not auditor.has_perm("recordings.view_footage")
    assert Group.objects.filter(name="Administrator").exists()


@pytest.mark.django_db
def test_admin_pages_follow_the_roles(client):
    make_user("t", "Field technician")
    make_user("i", "Investigator")
    make_user("a", "Auditor")
    pages = {
        "segments": reverse("admin:recordings_segment_changelist"),
        "audit": reverse("admin:audit_auditevent_changelist"),
        "cameras": reverse("admin:cameras_camera_changelist"),
    }
    expected = {
        "t": {"segments": 403, "audit": 403, "cameras": 200},
        "i": {"segments": 200, "audit": 403, "cameras": 200},
        "a": {"segments": 200, "audit": 200, "cameras": 200},
    }
    for name, codes in expected.items():
        client.force_login(User.objects.get(username=name))
        assert {k: client.get(url).status_code for k, url in pages.items()} == codes, name


@pytest.mark.django_db
def test_login_logout_and_failure_are_audited_with_the_address(client):
    make_user("alice")
    post_login_form(client, "alice", "wrong-password")
    post_login_form(client, "alice")
    client.post(reverse("admin:logout"), REMOTE_ADDR="10.147.17.9")
    events = list(
        AuditEvent.objects.order_by("sequence").values_list("action", "username", "client_ip")
    )
    assert events == [
        ("login_failed", "alice", "10.147.17.9"),
        ("login", "alice", "10.147.17.9"),
        ("logout", "alice", "10.147.17.9"),
    ]
    assert "wrong-password" not in str(list(AuditEvent.objects.values()))


@pytest.mark.django_db
def test_failed_logins_are_throttled_then_released(client, settings, monkeypatch):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_SECONDS = 300
    make_user("bob")
    for _ in range(3):
        assert post_login_form(client, "bob", "nope").status_code == 200
    response = post_login_form(client, "bob")  # right password, but locked
    assert b"Too many failed logins; try again in 5 minutes" in response.content
    assert "_auth_user_id" not in client.session
    # Another address is locked for that user name too.
    assert b"Too many failed logins" in post_login_form(client, "bob", ip="10.147.17.50").content
    later = timezone.now() + timedelta(seconds=301)
    monkeypatch.setattr("audit.throttle.timezone.now", lambda: later)
    response = post_login_form(client, "bob")
    assert response.status_code == 302 and client.session["_auth_user_id"]


@pytest.mark.django_db
def test_audit_entries_cannot_be_edited_or_deleted_by_a_superuser(client):
    boss = User.objects.create_superuser("boss", password=PASSWORD)
    event = log.record(AuditEvent.Action.SYSTEM, username="system", target="x")
    client.force_login(boss)
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    change = reverse("admin:audit_auditevent_change", args=[event.pk])
    assert client.post(change, {"target": "y"}).status_code == 403
    delete = reverse("admin:audit_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).target == "x"
    page = client.get(reverse("admin:audit_auditevent_changelist"))
    assert b"chain intact" in page.content


@pytest.mark.django_db
def test_camera_change_in_the_admin_is_audited_without_the_password(client):
    """Through the admin's own change form: the new password is in the POST, in the form's
    cleaned data and in the changed fields, and must reach neither the admin history nor
    the audit entry (which evidence packages copy)."""
    from django.contrib.admin.models import LogEntry

    boss = User.objects.create_superuser("boss", password=PASSWORD)
    camera = make_camera("Gate", username="op", password="old-secret-1")
    client.force_login(boss)
    url = reverse("admin:cameras_camera_change", args=[camera.pk])
    data = {
        "name": "Gate",
        "location": "North gate",
        "sub_stream_uri": "",
        "host": "",
        "onvif_port": 80,
        "username": "op",
        "password": "cam-secret-9",
        "is_enabled": "on",
        "main_profile_token": "",
        "sub_profile_token": "",
        "main_stream_uri": camera.main_stream_uri,  # as the page renders it back
    }
    assert client.post(url, data).status_code == 302
    camera.refresh_from_db()
    assert camera.password == "cam-secret-9" and camera.location == "North gate"
    entry = LogEntry.objects.get(object_id=str(camera.pk))
    event = AuditEvent.objects.get(action=AuditEvent.Action.CAMERA_CHANGE)
    assert event.camera == camera and event.username == "boss"
    assert (event.detail["change"], event.detail["via"]) == ("changed", "admin")
    assert event.detail["changed"]["location"] == ["", "North gate"]
    assert event.detail["changed"]["password"] == ["***", "***"]
    assert "password changed" in event.detail["changes"]
    for text in (str(event.detail), entry.change_message, entry.get_change_message()):
        assert "cam-secret-9" not in text and "old-secret-1" not in text


@pytest.mark.django_db
def test_tampering_is_named_by_verify_audit(capsys):
    events = [log.record(AuditEvent.Action.SYSTEM, username="s", target=f"t{i}") for i in range(20)]
    call_command("verify_audit")
    assert "20 audit entries checked, 0 problem(s)" in capsys.readouterr().out
    AuditEvent.objects.filter(pk=events[7].pk).update(target="rewritten")
    AuditEvent.objects.filter(pk=events[12].pk).delete()
    with pytest.raises(SystemExit) as exc:
        call_command("verify_audit")
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "entry 8 was altered" in out and "entries 13..13 are missing" in out


@pytest.mark.django_db
def test_audit_list_trusts_the_last_full_check_and_walks_only_what_came_after(client):
    events = [log.record(AuditEvent.Action.SYSTEM, username="s", target=f"t{i}") for i in range(5)]
    first = log.run_check()
    assert first.ok and (first.checked, first.last_sequence) == (5, 5)
    log.record(AuditEvent.Action.SYSTEM, username="s", target="after")
    ok, status = log.chain_status()
    assert ok and "5 entries at the full check" in status and "1 since" in status

    AuditEvent.objects.filter(sequence=6).update(target="rewritten")  # after the check
    ok, status = log.chain_status()
    assert not ok and "entry 6 was altered" in status

    AuditEvent.objects.filter(pk=events[1].pk).update(target="old entry rewritten")
    check = log.run_check()  # the daily full walk finds the older change
    assert not check.ok and "entry 2 was altered" in check.problems
    client.force_login(make_user("a", "Auditor"))
    page = client.get(reverse("admin:audit_auditevent_changelist")).content.decode()
    assert "CHAIN BROKEN" in page and "entry 2 was altered" in page
    from recordings.health import health_status

    assert any("Audit trail check" in a for a in health_status()["alarms"])
