"""Log state changes, not loops: no per-task Django-Q lines, no favicon 404s, an integrity
check that ran before any footage does not read as "OK, 0 segments" all day."""

import logging
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from console.health_words import integrity_words
from recordings.health import health_status
from recordings.models import IntegrityCheck
from recordings.tasks import ensure_schedules
from tests.factories import make_camera, make_segments


def test_django_q_logs_its_state_changes_but_not_every_task_run(caplog):
    logger = logging.getLogger("django-q")
    with caplog.at_level(logging.INFO, logger="django-q"):
        logger.info("Enqueued [crimebox] 42")
        logger.info("Process-1 created task alpha-bravo from schedule [retention]")
        logger.info("Process-1:1 processing alpha-bravo 'recordings.tasks.prune_task' [retention]")
        logger.info("Processed 'recordings.tasks.prune_task' (alpha-bravo)")
        logger.info("Q Cluster crimebox running.")
        logger.error("Failed 'recordings.tasks.prune_task' (alpha-bravo) - boom")
    assert [r.getMessage() for r in caplog.records] == [
        "Q Cluster crimebox running.",
        "Failed 'recordings.tasks.prune_task' (alpha-bravo) - boom",
    ]


def test_favicon_is_answered_without_a_warning(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    assert caplog.records == []


def test_a_check_before_any_footage_says_so_and_counts_what_closed_since(db):
    ensure_schedules()
    at = timezone.now() - timedelta(hours=3)
    IntegrityCheck.objects.create(started_at=at, finished_at=at, ok=True, checked=0)
    make_segments(make_camera("North"), datetime.now(UTC) - timedelta(hours=1), 2)
    summary = health_status()["last_integrity_check"]
    assert summary["checked"] == 0 and summary["closed_since"] == 2
    assert summary["next_at"] is not None
    words = integrity_words(summary)
    assert "ran before any footage existed" in words
    assert "2 segment(s) closed since" in words
    assert "0 segment" not in words
