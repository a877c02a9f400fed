"""Admin forms for cameras. Passwords are write-only: never rendered back, blank keeps the old."""

from typing import Any, cast
from urllib.parse import urlsplit

from django import forms
from django.http import HttpRequest

from crimebox.redaction import redact_text

from . import trust
from .audit import answer_refused
from .models import Camera
from .onvif import DeviceProbe, ONVIFError, profile_label, validate_host
from .services import (
    CameraError,
    RefusedAnswer,
    apply_probe,
    check_unique,
    probe_onvif,
    set_main_stream,
    set_profile,
    set_substream,
    split_rtsp_url,
)


def _cleaned(data: dict[str, Any] | None) -> dict[str, Any]:
    """What Form.clean() returned: Django's returns cleaned_data, its stubs allow None."""
    return cast(dict[str, Any], data)


def password_field(required: bool = False, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        required=required,
        strip=False,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class OnvifAddForm(forms.Form):
    """Step 1 of adding an ONVIF camera: where it is; clean() probes it."""

    name = forms.CharField(max_length=100)
    location = forms.CharField(max_length=200, required=False)
    host = forms.CharField(max_length=255, help_text="IP address or host name of the camera.")
    port = forms.IntegerField(
        min_value=1, max_value=65535, initial=80, help_text="ONVIF (HTTP) port, usually 80."
    )
    username = forms.CharField(max_length=100, required=False)
    password = password_field()

    probe: DeviceProbe | None = None
    request: HttpRequest | None = None  # set by the view, for the audit trail

    def clean_host(self) -> str:
        try:
            return validate_host(self.cleaned_data["host"])
        except ONVIFError as e:
            raise forms.ValidationError(str(e)) from None

    def clean(self) -> dict[str, Any]:
        data = _cleaned(super().clean())
        if self.errors:
            return data
        try:
            check_unique(data["name"], host=data["host"], port=data["port"])
            self.probe = probe_onvif(data["host"], data["port"], data["username"], data["password"])
        except RefusedAnswer as e:
            host = f"{data['host']}:{data['port']}"
            answer_refused(None, str(e), via="admin", host=host, request=self.request)
            raise forms.ValidationError(str(e)) from None
        except CameraError as e:
            raise forms.ValidationError(str(e)) from None
        if not self.probe.profiles:
            raise forms.ValidationError("The camera reported no video profile to record.")
        return data


def profile_choices(profiles: list[dict]) -> list[tuple[str, str]]:
    return [(p["token"], profile_label(p)) for p in profiles]


class ProfileChoiceForm(forms.Form):
    """Step 2: which profile is recorded (main) and which serves live view (sub)."""

    main_profile = forms.ChoiceField(help_text="Recorded. Usually the highest resolution.")
    sub_profile = forms.ChoiceField(help_text="Live view. Usually the lowest resolution.")

    def __init__(self, *args: Any, probe: DeviceProbe, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = profile_choices([p.__dict__ for p in probe.profiles])
        main, sub = probe.default_profiles()
        cast(forms.ChoiceField, self.fields["main_profile"]).choices = choices
        cast(forms.ChoiceField, self.fields["sub_profile"]).choices = choices
        self.fields["main_profile"].initial = main.token if main else None
        self.fields["sub_profile"].initial = sub.token if sub else None


class RtspAddForm(forms.Form):
    name = forms.CharField(max_length=100)
    location = forms.CharField(max_length=200, required=False)
    url = forms.CharField(
        label="RTSP URL",
        max_length=500,
        help_text="rtsp://host:554/path; credentials in the URL are moved to the fields below.",
    )
    sub_url = forms.CharField(
        label="Substream URL",
        max_length=500,
        required=False,
        help_text="Optional, for live view: the camera's low-resolution stream (same "
        "credentials). Without it live view sends the main stream.",
    )
    username = forms.CharField(max_length=100, required=False)
    password = password_field()

    def __init__(self, data: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        # Move inline credentials out of the URL before anything can render it back.
        if data is not None and data.get("url"):
            data = data.copy()
            try:
                url, user, pw = split_rtsp_url(
                    data["url"], data.get("username", ""), data.get("password", "")
                )
            except CameraError:
                data["url"] = redact_text(data["url"])
            else:
                data.update(url=url, username=user, password=pw)
        if data is not None and data.get("sub_url"):
            data = data.copy()
            data["sub_url"] = redact_text(data["sub_url"])  # never rendered back with a secret
        super().__init__(data, *args, **kwargs)


class TestPatternAddForm(forms.Form):
    name = forms.CharField(max_length=100, initial="Test pattern")
    location = forms.CharField(max_length=200, required=False)


MOVED = (
    "The camera's address changes: type its password again (the stored one is never sent to "
    "a new address)."
)


def _address(url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(url or "")
        return (parts.hostname, parts.port)
    except ValueError:
        return (None, None)


class CameraChangeForm(forms.ModelForm):
    """Editing a camera; a changed ONVIF address or credential is probed before saving."""

    password = password_field(help_text="Leave blank to keep the current password.")
    main_profile_token = forms.ChoiceField(label="Main (recorded) profile", required=False)
    sub_profile_token = forms.ChoiceField(label="Sub (live view) profile", required=False)

    probe: DeviceProbe | None = None
    request: HttpRequest | None = None  # CameraAdmin.get_form sets it, for the audit trail

    class Meta:
        model = Camera
        fields = [
            "name",
            "location",
            "latitude",
            "longitude",
            "facing_degrees",
            "is_enabled",
            "record_audio",
            "host",
            "onvif_port",
            "username",
            "password",
            "main_profile_token",
            "sub_profile_token",
            "main_stream_uri",
            "sub_stream_uri",
        ]
        labels = {"main_stream_uri": "RTSP URL", "sub_stream_uri": "Substream URL"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "---------"), *profile_choices(self.instance.profiles or [])]
        for name in ("main_profile_token", "sub_profile_token"):
            cast(forms.ChoiceField, self.fields[name]).choices = choices

    def clean_password(self) -> str:
        return self.cleaned_data.get("password") or self.instance.password

    def moves_stored_password(self, data: dict[str, Any]) -> bool:
        """A new host or port with the stored password kept would send that password to
        whatever answers at the new address (a technician's own device, say)."""
        camera = self.instance
        if not camera.pk or not camera.password or self.data.get("password"):
            return False
        if camera.source == Camera.Source.ONVIF:
            return (data.get("host"), data.get("onvif_port")) != (camera.host, camera.onvif_port)
        return any(
            data.get(f) and not self.same_address(data[f])
            for f in ("main_stream_uri", "sub_stream_uri")
            if f in self.fields
        )

    def same_address(self, url: str) -> bool:
        """`url` points at the host and port the camera's streams already use."""
        known = {_address(self.instance.main_stream_uri), _address(self.instance.sub_stream_uri)}
        return _address(url) in known

    def clean_sub_stream_uri(self) -> str:
        """Editable for RTSP cameras only (CameraAdmin): checked like the main URL."""
        url = self.cleaned_data.get("sub_stream_uri", "")
        if url == self.instance.sub_stream_uri:
            return url
        if self.instance.password and not self.data.get("password") and not self.same_address(url):
            raise forms.ValidationError(MOVED)  # before ffprobe sends the stored password there
        try:
            set_substream(self.instance, url)  # also its codec, size and frame rate
        except CameraError as e:
            raise forms.ValidationError(str(e)) from None
        return self.instance.sub_stream_uri

    def clean(self) -> dict[str, Any]:
        data = _cleaned(super().clean())
        if not self.errors and self.moves_stored_password(data):
            self.add_error("password", MOVED)
        if self.errors:
            return data
        if self.instance.source == Camera.Source.RTSP:
            return self.clean_rtsp(data)
        if self.instance.source != Camera.Source.ONVIF:
            return data
        # Compared with the row, not changed_data: a blank (kept) password is not a change.
        # Typed (even unchanged), the password confirms whatever port the camera now names.
        endpoint = ("host", "onvif_port", "username", "password")
        camera, typed = self.instance, bool(self.data.get("password"))
        if camera.pk and not typed and all(data.get(f) == getattr(camera, f) for f in endpoint):
            return data
        known = None if typed else trust.known_endpoints(*self.endpoint(), camera.stored_uris())
        try:
            self.probe = probe_onvif(
                data["host"], data["onvif_port"], data["username"], data["password"], known
            )
        except RefusedAnswer as e:
            if camera.pk:
                camera.note_refusal(str(e))
            answer_refused(camera if camera.pk else None, str(e), via="admin", host=data["host"],
                           request=self.request)  # fmt: skip
            raise forms.ValidationError(str(e)) from None
        except CameraError as e:
            raise forms.ValidationError(str(e)) from None
        return data

    def endpoint(self) -> tuple[str, int]:
        """The ONVIF address the camera row has (before this form's changes)."""
        return self.initial.get("host", self.instance.host), self.initial.get(
            "onvif_port", self.instance.onvif_port
        )

    def clean_rtsp(self, data: dict[str, Any]) -> dict[str, Any]:
        """Editable for RTSP cameras only (CameraAdmin): a changed URL is checked with
        ffprobe (with the credentials on the form) before saving, like a new camera's."""
        if "main_stream_uri" not in self.fields:
            return data
        stream = ("main_stream_uri", "username", "password")
        if data.get("main_stream_uri") == self.instance.main_stream_uri:
            return data
        try:
            set_main_stream(
                self.instance, data["main_stream_uri"], data["username"], data["password"]
            )
        except CameraError as e:
            raise forms.ValidationError(str(e)) from None
        for f in stream:
            data[f] = getattr(self.instance, f)  # credentials moved out of the URL
        return data

    def save(self, commit: bool = True) -> Camera:
        camera = super().save(commit=False)
        main, sub = self.cleaned_data["main_profile_token"], self.cleaned_data["sub_profile_token"]
        if self.probe is not None:
            apply_probe(camera, self.probe, main, sub)
        else:
            profiles = {p["token"]: p for p in camera.profiles or []}
            for role, token in (("main", main), ("sub", sub)):
                if token in profiles:
                    set_profile(camera, role, profiles[token])
        if commit:
            camera.save()
        return camera
