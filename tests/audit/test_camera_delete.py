"""Deleting a camera must never alter the audit chain; a camera with history
is retired (disabled, kept), one without history may still be deleted."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from audit import log
from audit.models import AuditEvent
from cameras.audit import camera_changed
from cameras.models import Camera
from tests.factories import make_camera


def chain_ok() -> bool:
    return log.run_check().ok


@pytest.mark.django_db
def test_deleting_a_camera_without_history_keeps_the_chain(admin_client):
    camera = make_camera("Doomed")
    camera_changed(camera, "added", via="cli")
    pk = camera.pk
    response = admin_client.post(reverse("admin:cameras_camera_delete", args=[pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Camera.objects.filter(pk=pk).exists()
    entries = AuditEvent.objects.filter(target=f"camera {pk}").order_by("sequence")
    assert [e.detail["change"] for e in entries] == ["added", "deleted"]
    # The reference is what it was when written: the hashed content did not change.
    assert {e.camera_id for e in entries} == {pk}
    assert {e.camera_name for e in entries} == {"Doomed"}
    assert chain_ok()
    call_command("verify_audit")  # exits 1 (SystemExit) on a broken chain
    assert admin_client.get(reverse("health")).json()["status"] != "critical"
    # The audit list still renders the entries of a camera that is gone.
    page = admin_client.get(reverse("admin:audit_auditevent_changelist"))
    assert page.status_code == 200 and "Doomed" in page.content.decode()
    entry = entries.first()
    assert (
        admin_client.get(reverse("admin:audit_auditevent_change", args=[entry.pk])).status_code
        == 200
    )


@pytest.mark.django_db
def test_a_camera_with_history_is_retired_not_deleted(admin_client):
    camera = make_camera("Watched")
    camera_changed(camera, "added", via="cli")
    log.record(AuditEvent.Action.LIVE, camera=camera, target=f"camera {camera.pk}")
    assert camera.has_history()
    url = reverse("admin:cameras_camera_delete", args=[camera.pk])
    # The change page offers no delete; the delete view and the bulk action refuse.
    change = admin_client.get(reverse("admin:cameras_camera_change", args=[camera.pk]))
    assert url not in change.content.decode()
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        reverse("admin:cameras_camera_changelist"),
        {"action": "delete_selected", "_selected_action": [camera.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert Camera.objects.filter(pk=camera.pk).exists()
    actions = admin_client.get(reverse("admin:cameras_camera_changelist")).content.decode()
    assert "retire_cameras" in actions

    admin_client.post(
        reverse("admin:cameras_camera_changelist"),
        {"action": "retire_cameras", "_selected_action": [camera.pk]},
    )
    camera.refresh_from_db()
    assert not camera.is_enabled and camera.status == Camera.Status.DISABLED
    retired = AuditEvent.objects.filter(action="camera_change").order_by("sequence").last()
    assert retired.detail["change"] == "retired" and retired.camera_id == camera.pk
    assert chain_ok()


@pytest.mark.django_db
def test_the_database_cannot_clear_an_entry_camera():
    """Even a delete outside the admin (a shell, a command) leaves the entries as written."""
    camera = make_camera("Gone")
    camera_changed(camera, "added", via="cli")
    pk = camera.pk
    Camera.objects.filter(pk=pk).delete()
    assert AuditEvent.objects.get(target=f"camera {pk}").camera_id == pk
    assert chain_ok()
