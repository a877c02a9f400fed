"""Evidence exports in the admin: request (form), progress (list), download (view)."""

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audit import roles
from audit.models import AuditEvent
from crimebox.display import box_window

from ..evidence import jobs
from ..evidence.plan import ExportError, plan
from ..evidence.signing import ensure_signing_key
from ..footage.media import Audit, ranged_response
from ..models import Export
from ..validators import check_export_window


class ExportForm(forms.ModelForm):
    class Meta:
        model = Export
        fields = [
            "cameras",
            "start",
            "end",
            "case_number",
            "reason",
            "include_originals",
            "hold_sources",
        ]
        help_texts = {
            "hold_sources": "Put the source segments on legal hold (recommended).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        now = timezone.localtime()
        zone = f"{timezone.get_current_timezone_name()} (UTC{now:%z}; now {now:%H:%M})"
        for name in ("start", "end"):
            if name in self.fields:
                help_text = f"In the box's time zone, {zone}. Stored and exported in UTC."
                self.fields[name].help_text = help_text

    def clean(self) -> dict[str, Any]:
        # Django's ModelForm.clean returns cleaned_data (its stubs allow None).
        data = cast(dict[str, Any], super().clean())
        if {"cameras", "start", "end"} <= data.keys():
            try:
                check_export_window(data["start"], data["end"])
            except ValidationError:
                return data  # Export.clean() puts it on the end field
            try:
                plan(list(data["cameras"]), data["start"], data["end"])
            except ExportError as e:
                raise forms.ValidationError(str(e)) from None
            self.window_text = box_window(data["start"], data["end"])  # the zone named once
        return data


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    form = ExportForm
    list_display = [
        "requested_at",
        "case_number",
        "window",
        "requested_by",
        "status_text",
        "download_link",
    ]
    list_filter = ["status"]
    search_fields = ["case_number", "reason"]
    readonly_fields = [
        "status",
        "progress",
        "path",
        "sha256",
        "size",
        "error",
        "finished_at",
        "requested_by",
        "requested_at",
    ]
    list_select_related = ["requested_by"]

    def has_change_permission(self, request: HttpRequest, obj: Export | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Export | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return roles.may_export(request.user)

    # A flat list of names: one of the shapes Django takes (the stubs' list is invariant).
    def get_fields(  # type: ignore[override]
        self, request: HttpRequest, obj: Export | None = None
    ) -> list[str]:
        return (
            ExportForm.Meta.fields if obj is None else ExportForm.Meta.fields + self.readonly_fields
        )

    # A person uses the console's export pages (prefilled form, refreshing list, download);
    # the admin's own pages send them there. POSTs to the admin's add form still work.
    def changelist_view(  # type: ignore[override]  # a redirect, not the list page
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponseBase:
        return redirect("console:exports")

    def add_view(  # type: ignore[override]  # a redirect for a GET
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponseBase:
        if request.method == "GET" and self.has_add_permission(request):
            query = request.GET.urlencode()
            return redirect(reverse("console:export_new") + (f"?{query}" if query else ""))
        return super().add_view(request, form_url, extra_context)

    def change_view(  # type: ignore[override]  # always a redirect
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponseBase:
        return redirect("console:export", object_id)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        extra_context = {
            **(extra_context or {}),
            "subtitle": f"Box signing key fingerprint: {ensure_signing_key().fingerprint}",
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(
        self, request: HttpRequest, obj: Export, form: forms.ModelForm, change: bool
    ) -> None:
        obj.requested_by = request.user  # type: ignore[assignment]  # the admin: logged in
        super().save_model(request, obj, form, change)

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        jobs.queue(form.instance.pk)
        messages.info(
            request,
            f"Export queued: {getattr(form, 'window_text', '')}. "
            "The package is offered for download here when ready.",
        )

    def response_add(  # type: ignore[override]  # a redirect to the console's page
        self, request: HttpRequest, obj: Export, post_url_continue: str | None = None
    ) -> HttpResponseBase:
        # One message (save_related's), not the admin's "added successfully" beside it.
        return redirect("console:export", obj.pk)

    @admin.display(description="window (UTC)")
    def window(self, obj: Export) -> str:
        return f"{obj.start:%Y-%m-%d %H:%M:%S} – {obj.end:%H:%M:%S}"

    @admin.display(description="status")
    def status_text(self, obj: Export) -> str:
        if obj.status == Export.Status.RUNNING:
            return f"Running {obj.progress}%"
        if obj.status == Export.Status.FAILED:
            return format_html('<b style="color:#b00" title="{}">Failed</b>', obj.error)
        return obj.get_status_display()

    @admin.display(description="package")
    def download_link(self, obj: Export) -> str:
        if obj.status != Export.Status.DONE:
            return "—"
        url = reverse("admin:recordings_export_download", args=[obj.pk])
        return format_html(
            '<a class="download" href="{}">Download zip</a> ({} MB)',
            url,
            f"{(obj.size or 0) / 1e6:.1f}",
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:export_id>/download/",
                self.admin_site.admin_view(self.download),
                name="recordings_export_download",
            )
        ] + super().get_urls()

    def download(self, request: HttpRequest, export_id: int) -> HttpResponseBase:
        if not (roles.may_export(request.user) or roles.may_view_footage(request.user)):
            raise PermissionDenied
        export = Export.objects.filter(pk=export_id, status=Export.Status.DONE).first()
        if export is None or not export.path or "/" in export.path or not export.abs_path.is_file():
            raise Http404("No package for this export.")
        audit = Audit(
            AuditEvent.Action.DOWNLOAD,
            target=f"export {export.pk}",
            detail={"package": export.path, "sha256": export.sha256},
        )
        return ranged_response(
            request,
            export.abs_path,
            content_type="application/zip",
            download_name=export.path,
            audit=audit,
        )
