"""/health and the status panel only for users with a role; an evidence
package carries custody data (who held, copied, exported, changed what, when), not who merely
looked at the footage and no one's client address."""

import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from audit import log
from audit.models import AuditEvent
from recordings.holds import place_hold
from tests.factories import make_camera, make_segments
from tests.recordings.test_export import export

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def staff(client, name, role=None):
    user = User.objects.create_user(name, password="x-pass-123", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def test_staff_without_a_role_gets_only_the_status(client):
    make_camera("North")
    staff(client, "nobody")
    assert set(client.get("/health").json()) == {"status"}
    assert client.get(reverse("console:health")).status_code == 403
    front = client.get(reverse("front")).content.decode()
    assert "Health details" not in front


@pytest.mark.parametrize("role", ["Field technician", "Investigator", "Auditor", "Administrator"])
def test_every_role_gets_the_details(client, role):
    make_camera("North")
    staff(client, role.split()[0].lower(), role)
    assert "cameras" in client.get("/health").json()
    assert client.get(reverse("console:health")).status_code == 200


def test_anonymous_gets_only_the_status(client):
    assert set(client.get("/health").json()) == {"status"}


def test_the_package_carries_custody_not_other_users_access_or_addresses(tmp_path, rf):
    camera = make_camera("North")
    segments = make_segments(camera, T0, 2, seconds=4)
    other = User.objects.create_user("olga", password="x-pass-123", is_staff=True)
    request = rf.get("/", REMOTE_ADDR="10.147.17.99")
    request.user = other
    log.record(
        AuditEvent.Action.PLAY, request=request, camera=camera, target=f"segment {segments[0].pk}"
    )
    log.record(
        AuditEvent.Action.DOWNLOAD,
        request=request,
        camera=camera,
        target=f"segment {segments[0].pk}",
        detail={"sha256": segments[0].sha256},
    )
    place_hold(camera, T0, T0 + timedelta(seconds=8), "robbery", user=other, request=request)
    package = export(tmp_path, T0 + timedelta(seconds=1), T0 + timedelta(seconds=6))
    with zipfile.ZipFile(package) as z:
        raw = next(z.read(n) for n in z.namelist() if n.endswith("manifest.json"))
    manifest = json.loads(raw)
    actions = [(e["action"], e["user"]) for e in manifest["audit_events"]]
    assert ("download", "olga") in actions and ("hold", "olga") in actions
    assert "play" not in [a for a, _ in actions]
    assert b"10.147.17.99" not in raw and "client_ip" not in raw.decode()
