"""Replication on the front page, /health and the admin."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse

from audit import log
from audit.models import AuditEvent
from sync.models import OutboxItem, SyncLog


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("root", "r@x.org", "pw-long-enough"))
    return client


def test_front_page_and_health_say_replication_is_off(admin_client, settings):
    settings.RTCC_URI = settings.RTCC_URI_FILE = ""
    with transaction.atomic():
        log.record(AuditEvent.Action.SYSTEM, username="x")
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Replication to the RTCC is not configured" in page
    assert "waiting (" in page and " audit" in page
    health = json.loads(admin_client.get("/health").content)
    assert health["replication"]["configured"] is False
    assert health["replication"]["backlog_by_kind"]["audit"] >= 1


def test_front_page_names_the_target_without_credentials(admin_client, settings):
    settings.RTCC_URI = "mongodb://box7:hunter2@10.147.17.1:27017/?tls=true"
    OutboxItem.objects.update(created_at=datetime.now(UTC) - timedelta(hours=3))
    with transaction.atomic():
        log.record(AuditEvent.Action.SYSTEM, username="x")
    OutboxItem.objects.update(created_at=datetime.now(UTC) - timedelta(hours=3))
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "mongodb://***@10.147.17.1:27017/" in page
    assert "Replication backlog" in page  # older than an hour: a warning
    assert "hunter2" not in page and "box7" not in page
    assert "hunter2" not in admin_client.get("/health").content.decode()


def test_sync_rows_are_read_only_in_the_admin(admin_client):
    SyncLog.objects.create(result=SyncLog.Result.FAILED, error="down")
    with transaction.atomic():
        log.record(AuditEvent.Action.SYSTEM, username="x")
    item = OutboxItem.objects.first()
    for name, pk in (("synclog", SyncLog.objects.get().pk), ("outboxitem", item.pk)):
        assert admin_client.get(reverse(f"admin:sync_{name}_changelist")).status_code == 200
        change = admin_client.get(reverse(f"admin:sync_{name}_change", args=[pk]))
        assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
        assert admin_client.get(reverse(f"admin:sync_{name}_add")).status_code == 403


def test_sync_log_durations_read_as_seconds(admin_client):
    SyncLog.objects.create(result=SyncLog.Result.OK, duration=0.812345678)
    SyncLog.objects.create(result=SyncLog.Result.OK, duration=150.0)
    page = admin_client.get(reverse("admin:sync_synclog_changelist")).content.decode()
    assert "0.81 s" in page and "2.5 min" in page
    assert "0.812345678" not in page
