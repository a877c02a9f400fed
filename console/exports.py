"""Evidence exports for a person: a purpose-made request form (prefilled from the player or a
timeline selection), the list refreshing while packages are built, one export's page."""

from datetime import datetime, timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from audit import roles
from cameras.models import Camera
from crimebox.admin_base import page_context
from crimebox.display import box_window, zone_name
from recordings.evidence import jobs
from recordings.evidence.jobs import retry_export
from recordings.evidence.plan import ExportError, plan
from recordings.evidence.signing import ensure_signing_key
from recordings.models import Export
from recordings.validators import check_export_window

TIME_INPUT = forms.TextInput(
    attrs={
        "pattern": r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?",
        "placeholder": "HH:MM:SS",
        "inputmode": "numeric",
        "size": 10,
        "autocomplete": "off",
        "title": "24-hour time, HH:MM or HH:MM:SS",
    }
)
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CameraChoiceField(forms.ModelMultipleChoiceField):
    def _check_values(self, value: Any) -> QuerySet[Camera]:
        try:
            # In Django's ModelMultipleChoiceField; not in its stubs.
            return super()._check_values(value)  # type: ignore[misc]
        except OverflowError:  # an id past SQLite's integers (a 500 before)
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": "that camera"},
            ) from None


class ExportRequestForm(forms.ModelForm):
    """Cameras as checkboxes; the window as date + 24-hour time in the box's zone."""

    start_date = forms.DateField(label="From (date)", widget=DATE_INPUT)
    start_time = forms.TimeField(label="From (time)", widget=TIME_INPUT)
    end_date = forms.DateField(label="To (date)", widget=DATE_INPUT)
    end_time = forms.TimeField(label="To (time)", widget=TIME_INPUT)

    class Meta:
        model = Export
        fields = ["cameras", "case_number", "reason", "include_originals", "hold_sources"]
        field_classes = {"cameras": CameraChoiceField}
        widgets = {
            "cameras": forms.CheckboxSelectMultiple,
            "reason": forms.Textarea(attrs={"rows": 2, "cols": 50}),
        }
        labels = {
            "case_number": "Case number",
            "include_originals": "Also include the original segment files",
            "hold_sources": "Put the source footage on legal hold (recommended)",
        }

    field_order = ["cameras", "start_date", "start_time", "end_date", "end_time"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cameras = cast(CameraChoiceField, self.fields["cameras"])
        cameras.queryset = Camera.objects.order_by("name")
        self.fields["cameras"].help_text = ""
        self.fields["case_number"].widget.attrs.update(size=20, autocomplete="off")

    def clean(self) -> dict[str, Any]:
        # Django's ModelForm.clean returns cleaned_data (its stubs allow None).
        data = cast(dict[str, Any], super().clean())
        parts = ("start_date", "start_time", "end_date", "end_time")
        if not all(data.get(k) for k in parts[::2]) or not all(
            data.get(k) is not None for k in parts[1::2]
        ):
            return data
        tz = timezone.get_current_timezone()
        start = timezone.make_aware(datetime.combine(data["start_date"], data["start_time"]), tz)
        end = timezone.make_aware(datetime.combine(data["end_date"], data["end_time"]), tz)
        try:
            check_export_window(start, end)  # the shared rules (recordings.validators)
        except ValidationError as e:
            self.add_error("end_time", e)
            return data
        if "cameras" in data:
            try:
                plan(list(data["cameras"]), start, end)
            except ExportError as e:
                raise forms.ValidationError(str(e)) from None
        # Export.clean() checks the window again, and the case number and reason.
        self.instance.start, self.instance.end = start, end
        return data


def initial_from(query: QueryDict) -> dict[str, Any]:
    """Prefill from ?camera=&start=&end= (ISO times, UTC or with an offset), as the player and
    the timeline send them; a bad value is simply not prefilled."""
    initial: dict[str, Any] = {}
    # At most 18 digits: a longer id is past SQLite's integers (a 500 before).
    cameras = [c for c in query.getlist("camera") if c.isascii() and c.isdigit() and len(c) < 19]
    if cameras:
        initial["cameras"] = list(Camera.objects.filter(pk__in=cameras))
    for key in ("start", "end"):
        try:
            value = parse_datetime(query.get(key, ""))
        except ValueError:
            value = None
        if value is None or timezone.is_naive(value):
            continue
        local = timezone.localtime(value)
        initial[f"{key}_date"] = local.date()
        initial[f"{key}_time"] = local.time().replace(microsecond=0)
    if "start_date" in initial and "end_date" not in initial:
        initial["end_date"] = initial["start_date"]
    initial.setdefault("start_date", timezone.localdate())
    initial.setdefault("end_date", initial["start_date"])
    return initial


@admin.site.admin_view
def export_new(request: HttpRequest) -> HttpResponse:
    if not roles.may_export(request.user):
        raise PermissionDenied
    if request.method == "POST":
        form = ExportRequestForm(request.POST)
        if form.is_valid():
            export = queue_export(form, request.user)
            messages.success(
                request,
                f"Building the package for case {export.case_number}: "
                f"{box_window(export.start, export.end)}. It is offered for download below "
                "when ready.",
            )
            return redirect(f"{reverse('console:exports')}?new={export.pk}")
    else:
        form = ExportRequestForm(initial=initial_from(request.GET))
    return render(
        request,
        "console/export_form.html",
        page_context(request, title="Export evidence", form=form, zone=zone_name()),
    )


def queue_export(form: ExportRequestForm, user: User | AnonymousUser) -> Export:
    with transaction.atomic():
        export = form.save(commit=False)
        export.requested_by = user
        export.save()
        form.save_m2m()
        jobs.queue(export.pk)
    return export


def visible_exports(request: HttpRequest) -> QuerySet[Export]:
    if not roles.may_view_exports(request.user):
        raise PermissionDenied
    return Export.objects.select_related("requested_by").prefetch_related("cameras")


@admin.site.admin_view
def export_list(request: HttpRequest) -> HttpResponse:
    exports = list(visible_exports(request)[:100])
    busy = any(e.status in (Export.Status.QUEUED, Export.Status.RUNNING) for e in exports)
    template = "console/_export_rows.html" if request.GET.get("rows") else "console/exports.html"
    return render(
        request,
        template,
        page_context(
            request,
            title="Evidence exports",
            exports=exports,
            busy=busy,
            new=request.GET.get("new", ""),
            fingerprint=ensure_signing_key().fingerprint,
            can_export=roles.may_export(request.user),
        ),
    )


@admin.site.admin_view
def export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    export = get_object_or_404(visible_exports(request), pk=export_id)
    return render(
        request,
        "console/export_detail.html",
        page_context(
            request,
            title=f"Export for case {export.case_number}",
            export=export,
            expires=expires_at(export),
            fingerprint=ensure_signing_key().fingerprint,
        ),
    )


@require_POST
@admin.site.admin_view
def export_retry(request: HttpRequest, export_id: int) -> HttpResponse:
    """A failed export (or one whose worker died) built again, by whoever may export."""
    if not roles.may_export(request.user):
        raise PermissionDenied
    export = get_object_or_404(visible_exports(request), pk=export_id)
    if retry_export(export.pk):
        messages.success(request, f"Building the package for case {export.case_number} again.")
    else:
        messages.warning(request, "Only a failed export can be retried.")
    return redirect("console:export", export.pk)


def expires_at(export: Export) -> datetime | None:
    days = settings.EXPORT_KEEP_DAYS
    if not days or export.finished_at is None or export.status != Export.Status.DONE:
        return None
    return export.finished_at + timedelta(days=days)
