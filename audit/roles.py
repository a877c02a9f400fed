"""The box's roles, as Django groups (created by migration audit 0002). See docs/roles.md."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the auth models cannot be imported while the apps load (migration 0002)
    from django.apps.registry import Apps
    from django.contrib.auth.models import AnonymousUser, User

ROLES = {
    "Field technician": [
        "cameras.view_camera",
        "cameras.view_clockreading",
        "cameras.add_camera",
        "cameras.change_camera",
        "cameras.control_ptz",
        "live.view_live",
        "recordings.view_gap",
        "recordings.view_integritycheck",
    ],
    "Investigator": [
        "cameras.view_camera",
        "cameras.view_clockreading",
        "live.view_live",
        "recordings.view_footage",
        "recordings.export_footage",
        "recordings.hold_footage",
        "recordings.view_segment",
        "recordings.view_gap",
        "recordings.view_integritycheck",
        "recordings.view_export",
        "recordings.add_export",
        "recordings.view_legalhold",
        "recordings.add_legalhold",
        "recordings.change_legalhold",
    ],
    # RTCC staff who watch and steer cameras; they browse no footage and export nothing.
    "Operator": [
        "cameras.view_camera",
        "cameras.view_clockreading",
        "cameras.control_ptz",
        "live.view_live",
    ],
    "Auditor": [
        "audit.view_auditevent",
        "audit.view_auditcheck",
        "cameras.view_camera",
        "cameras.view_clockreading",
        "live.view_livesession",
        "recordings.view_segment",
        "recordings.view_gap",
        "recordings.view_integritycheck",
        "recordings.view_export",
        "recordings.view_legalhold",
    ],
}
ADMINISTRATOR_EXTRA = [
    "cameras.delete_camera",
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.delete_user",
    "auth.view_group",
    "auth.change_group",
]


def role_permissions() -> dict[str, list[str]]:
    everything = sorted({p for perms in ROLES.values() for p in perms} | set(ADMINISTRATOR_EXTRA))
    return {**ROLES, "Administrator": everything}


def sync_roles(apps: "Apps | None" = None) -> None:
    """Create or update the role groups with exactly their permissions (idempotent).

    Called by migration 0002 (historical models: permissions of later models do not exist
    yet and are skipped) and after every migrate (post_migrate), which completes them.
    """
    from django.apps import apps as global_apps

    historical = apps is not None
    apps = apps or global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        objs = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if found is not None:
                objs.append(found)
            elif not historical:
                raise LookupError(f"role {name!r}: no permission {perm!r}")
        group.permissions.set(objs)


# What a person may do, by name: the pages, views and admin ask these, never a permission
# string of their own (the strings are the roles' table above; docs/roles.md says it in words).
VIEW_FOOTAGE = "recordings.view_footage"
EXPORT_FOOTAGE = "recordings.export_footage"
HOLD_FOOTAGE = "recordings.hold_footage"
VIEW_EXPORTS = "recordings.view_export"
VIEW_INTEGRITY = "recordings.view_integritycheck"
WATCH_LIVE = "live.view_live"
STEER = "cameras.control_ptz"
CHANGE_CAMERAS = "cameras.change_camera"
READ_AUDIT = "audit.view_auditevent"


def may_view_footage(user: "User | AnonymousUser") -> bool:
    return bool(user.has_perm(VIEW_FOOTAGE))


def may_export(user: "User | AnonymousUser") -> bool:
    return bool(user.has_perm(EXPORT_FOOTAGE))


def may_hold(user: "User | AnonymousUser") -> bool:
    return bool(user.has_perm(HOLD_FOOTAGE))


def may_view_exports(user: "User | AnonymousUser") -> bool:
    return bool(user.has_perm(VIEW_EXPORTS))


def may_watch_live(user: "User | AnonymousUser") -> bool:
    return bool(user.has_perm(WATCH_LIVE))


def may_steer(user: "User | AnonymousUser") -> bool:
    return bool(user.has_perm(STEER))


def may_change_cameras(user: "User | AnonymousUser") -> bool:
    return bool(user.has_perm(CHANGE_CAMERAS))


def may_read_audit(user: "User | AnonymousUser") -> bool:
    return bool(user.has_perm(READ_AUDIT))


def may_see_stills(user: "User | AnonymousUser") -> bool:
    """A still is footage: those who browse footage, and the technicians who aim cameras."""
    return may_view_footage(user) or may_change_cameras(user)
