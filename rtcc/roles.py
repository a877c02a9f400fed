"""The console's roles, as Django groups (docs/rtcc.md, "Pages and roles").

Named "RTCC …" so they never meet the box's groups of the same words (audit/roles.py): the
test suite runs both apps in one database, and a role's permissions differ between the two.
Each page checks one permission (rtcc/pages/access.py); the admin's built-in view/change
permissions of the read models are enough, so the roles need no custom permission rows.
"""

from typing import Any

OPERATOR = "RTCC operator"
INVESTIGATOR = "RTCC investigator"
ADMINISTRATOR = "RTCC administrator"
AUDITOR = "RTCC auditor"

# What each page asks for (rtcc/pages/access.py): one permission a page.
FLEET = "rtcc.view_box"  # fleet map, box pages
ALERTS = "rtcc.view_alert"
EVIDENCE = "rtcc.view_segmentrecord"  # where and when, "which box recorded SHA-256 X"
ENROL = "rtcc.change_box"  # approve or revoke a box's key
CLIPS = "rtcc.view_clipjob"  # the clip jobs list and a job's page
CLIP_REQUEST = "rtcc.add_clipjob"  # ask a box for a clip; download a verified package
CLIP_CANCEL = "rtcc.change_clipjob"  # the stop button of an open job
AUDIT_TRAIL = "audit.view_auditevent"

OPERATOR_PERMS = [
    FLEET,
    ALERTS,
    "rtcc.view_camera",
    "rtcc.view_gaprecord",
    "rtcc.view_heartbeatsample",
    "rtcc.view_integrityproblem",
    CLIPS,
]
ROLES = {
    OPERATOR: OPERATOR_PERMS,
    INVESTIGATOR: [*OPERATOR_PERMS, EVIDENCE, CLIP_REQUEST, CLIP_CANCEL],
    ADMINISTRATOR: [
        *OPERATOR_PERMS,
        ENROL,
        "rtcc.view_boxkey",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.delete_user",
        "auth.view_group",
    ],
    AUDITOR: [AUDIT_TRAIL, "audit.view_auditcheck", FLEET, "rtcc.view_integrityproblem"],
}


def sync_roles(**kwargs: Any) -> None:
    """Create or update the role groups with exactly their permissions (idempotent): run after
    every migrate (post_migrate, rtcc/apps.py), so a permission added later reaches its role."""
    from django.contrib.auth.models import Group, Permission

    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        objs = []
        for perm in perms:
            app_label, codename = perm.split(".")
            objs.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(objs)
