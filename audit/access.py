"""Who may grant what in the admin, and a Django-Q admin that can start nothing.

An Administrator (staff, not superuser) once made itself superuser by posting
is_superuser=on on its own user, then ran a shell command through a Django-Q schedule with
func=os.system. So:

- only superusers grant superuser status or single permissions, edit a group's permissions,
  or change a superuser's account (its password included);
- anyone else who may change users grants only groups whose every permission they hold
  themselves (an Administrator can hand out the roles, never more than it has);
- Django-Q's admin pages are read-only status for everyone, superusers included: schedules
  are made in code (crimebox/schedules.py), tasks by the box, and "resubmit" is gone.
"""

from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.options import ModelAdmin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.db.models import Count, ManyToManyField, Model, Q, QuerySet
from django.forms import ModelMultipleChoiceField
from django.http import HttpRequest, HttpResponse


def grantable_groups(user: User | AnonymousUser) -> QuerySet[Group]:
    """The groups `user` may give others: all for a superuser, else those whose permissions
    are a subset of the user's own."""
    if user.is_superuser:
        return Group.objects.all()
    held = [
        p.pk
        for p in Permission.objects.select_related("content_type")
        if user.has_perm(f"{p.content_type.app_label}.{p.codename}")
    ]
    foreign = Count("permissions", filter=~Q(permissions__in=held))
    return Group.objects.annotate(foreign=foreign).filter(foreign=0)


class AddUserForm(AdminUserCreationForm):
    """One page: who, the role to give (docs/roles.md), the password. Every person with a role
    logs in to the admin, so staff status is implied rather than a box to remember."""

    role = forms.ModelChoiceField(
        queryset=Group.objects.none(),
        help_text="What this person does on the box (docs/roles.md). More roles can be added "
        "on the user's page afterwards.",
    )

    # django-stubs do not declare the Meta that Django's user creation forms have.
    class Meta(AdminUserCreationForm.Meta):  # type: ignore[name-defined]
        fields = ("username", "first_name", "last_name", "email")

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.is_staff = True
        if commit:
            user.save()
            self._save_m2m()
        return user

    def _save_m2m(self) -> None:
        super()._save_m2m()  # type: ignore[misc]  # in Django's ModelForm, not in its stubs
        self.instance.groups.set([self.cleaned_data["role"]])


class BoxUserAdmin(UserAdmin):
    add_form = AddUserForm
    add_fieldsets = (
        (None, {"fields": ("username", "first_name", "last_name", "email", "role")}),
        ("Password", {"fields": ("usable_password", "password1", "password2")}),
    )

    def get_form(
        self, request: HttpRequest, obj: User | None = None, change: bool = False, **kwargs: Any
    ) -> "type[forms.ModelForm[User]]":
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            return form
        roles = grantable_groups(request.user).order_by("name")

        # A class per request: the roles depend on who asks. Its base is the form Django built
        # from add_form, held in a variable, which mypy cannot take as a base class.
        class AddWithRoles(form):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                self.fields["role"].queryset = roles

        return AddWithRoles

    def response_add(
        self, request: HttpRequest, obj: User, post_url_continue: str | None = None
    ) -> HttpResponse:
        # Django's user admin sends "Save" on to a second page (the change form with ~100 raw
        # permissions); everything a new person needs was on the first one.
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return ModelAdmin.response_add(self, request, obj, post_url_continue)

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                fields += ["groups"]  # nobody hands themselves a role
        return fields

    def formfield_for_manytomany(
        self, db_field: "ManyToManyField[Any, Any]", request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField | None:
        if db_field.name == "groups":
            kwargs["queryset"] = grantable_groups(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _guards_superuser(self, request: HttpRequest, obj: User | None) -> bool:
        return obj is not None and obj.is_superuser and not request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if self._guards_superuser(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if self._guards_superuser(request, obj):
            return False
        return super().has_delete_permission(request, obj)


class BoxGroupAdmin(GroupAdmin):
    """A group's permissions are the roles of docs/roles.md: only a superuser edits them."""

    def has_change_permission(self, request: HttpRequest, obj: Group | None = None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Group | None = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class StatusOnly:
    """Mixed into Django-Q's admin classes: look, never add, change, delete or resubmit."""

    actions: list[Any] = []

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def lock_down(site: admin.AdminSite) -> None:
    """Called once the admin modules are loaded (AuditConfig.ready)."""
    for model, base in ((User, BoxUserAdmin), (Group, BoxGroupAdmin)):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, base)
    if not apps.is_installed("django_q"):  # the RTCC console runs no Django-Q
        return
    from django_q import models as q

    for model in (q.Schedule, q.Success, q.Failure, q.OrmQ, q.Task):
        if site.is_registered(model):
            current = type(site.get_model_admin(model))
            site.unregister(model)
            site.register(model, type(f"StatusOnly{current.__name__}", (StatusOnly, current), {}))
