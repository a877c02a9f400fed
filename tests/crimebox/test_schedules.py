"""Every app's schedules exist after `migrate` alone: `install` and `update` migrate, and a
schedule added in a new version must reach a box already in the field."""

from django_q.models import Schedule

from cameras import tasks as camera_tasks
from recordings import tasks as recording_tasks
from sync import tasks as sync_tasks


def test_migrate_creates_every_app_s_schedules(db):
    # pytest-django built this database with `migrate`; nothing else created schedules.
    names = set(Schedule.objects.values_list("name", flat=True))
    for tasks in (camera_tasks, recording_tasks, sync_tasks):
        assert set(tasks.SCHEDULES) <= names, tasks.__name__
