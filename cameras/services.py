"""Adding and re-probing cameras: the domain code behind the admin and the commands.

Slow I/O (ONVIF, ffprobe) happens before any transaction; a camera row is written only
once everything it needs is known, so a failure never leaves half a camera behind.
"""

import logging
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from crimebox import outbox
from crimebox.ffprobe import MediaInfo, StreamURLError, check_stream_url, probe
from crimebox.ffrun import FFmpegError
from crimebox.logfilters import escape_controls
from crimebox.redaction import redact, redact_text, redact_url, with_credentials

from . import trust
from .audit import answer_refused
from .clock import measure_quietly
from .models import Camera
from .onvif import DeviceProbe, ONVIFError, ONVIFRefused, Profile, probe_device, validate_host

logger = logging.getLogger(__name__)

RTSP_SCHEMES = ("rtsp", "rtsps")
# What a probe writes; a re-probe saves only these so it never overwrites the recorder's
# status fields written meanwhile.
PROBE_FIELDS = [
    "manufacturer",
    "model",
    "firmware_version",
    "serial_number",
    "hardware_id",
    "profiles",
    *(
        f"{role}_{f}"
        for role in ("main", "sub")
        for f in ("profile_token", "stream_uri", "codec", "width", "height", "fps")
    ),
    "snapshot_uri",
    "probed_at",
]
# What a court may ask about a camera's provenance: a re-probe reports each change of these.
PROVENANCE_FIELDS = [f for f in PROBE_FIELDS if f not in ("profiles", "probed_at")]


class CameraError(Exception):
    """A camera cannot be added or probed; the message is one line, safe to show."""


class RefusedAnswer(CameraError):
    """The camera answered with somewhere its credentials may not go (cameras/trust.py)."""


def parse_onvif_address(address: str, default_port: int = 80) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' -> (host, port)."""
    address = (address or "").strip()
    if any(c in address for c in "/@ "):
        raise CameraError(
            f"'{redact_text(address)[:60]}' is not a valid host name or IP "
            f"address (give HOST[:PORT], without scheme, path or credentials)"
        )
    host, port = address, default_port
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:])
    elif address.count(":") == 1:
        host, raw_port = address.split(":")
        port = _port(raw_port)
    try:
        return validate_host(host), port
    except ONVIFError as e:
        raise CameraError(str(e)) from None


def _port(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        raise CameraError(f"'{raw[:10]}' is not a port number (1-65535)")
    return int(raw)


def split_rtsp_url(url: str, username: str = "", password: str = "") -> tuple[str, str, str]:
    """(url without credentials, username, password); inline credentials are split out."""
    url = (url or "").strip()
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in RTSP_SCHEMES:
        url = f"{scheme.lower()}://{rest}"  # RTSP:// is rtsp:// (schemes ignore case)
    try:
        check_stream_url(url)
    except StreamURLError as e:
        raise CameraError(str(e)) from None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise CameraError(f"malformed RTSP URL: {redact_text(url)[:100]}") from None
    if parts.scheme.lower() not in RTSP_SCHEMES or not parts.hostname or " " in url:
        raise CameraError(
            f"malformed RTSP URL (expected rtsp://host[:port]/path): {redact_text(url)[:100]}"
        )
    if port == 0:
        raise CameraError("malformed RTSP URL: port 0")
    if parts.username is not None:
        username = username or unquote(parts.username)
        password = password or unquote(parts.password or "")
    return redact_url(url), username, password


def check_unique(
    name: str,
    *,
    host: str = "",
    port: int | None = None,
    url: str = "",
    exclude_pk: int | None = None,
) -> None:
    """CameraError naming the existing camera when this one would duplicate it."""
    others = Camera.objects.exclude(pk=exclude_pk) if exclude_pk else Camera.objects.all()
    if name and others.filter(name__iexact=name.strip()).exists():
        raise CameraError(f"a camera named '{name.strip()}' already exists")
    if host:
        # A port of None (never passed with a host) matches no row: the column is NOT NULL.
        onvif = others.filter(source=Camera.Source.ONVIF, host=host)
        dup = onvif.filter(onvif_port=port).first()  # type: ignore[misc]
        if dup:
            raise CameraError(f"camera '{dup.name}' already uses ONVIF address {host}:{port}")
    if url:
        dup = others.filter(main_stream_uri=redact_url(url)).first()
        if dup:
            raise CameraError(f"camera '{dup.name}' already records {redact_url(url)}")


def probe_onvif(
    host: str,
    port: int,
    username: str,
    password: str,
    known: set[trust.Endpoint] | None = None,
) -> DeviceProbe:
    """Probe, then refuse (RefusedAnswer) an answer naming another host, or, unless a
    technician typed the password for this probe (`known` None), a port not in `known`."""
    try:
        result = probe_device(host, port, username, password)
    except ONVIFRefused as e:
        raise RefusedAnswer(str(e)) from None
    except ONVIFError as e:
        raise CameraError(str(e)) from None
    check_answer(host, result, known)
    return result


def usable(result: DeviceProbe) -> DeviceProbe:
    """The probe with the URIs the box could ever open: RTSP(S) streams, HTTP(S) snapshots.
    (A device answered http://127.0.0.1/... and file:///etc/passwd; those are dropped.)"""
    profiles = [
        replace(
            p,
            stream_uri=_device_stream_uri(p.stream_uri),
            snapshot_uri=_device_snapshot_uri(p.snapshot_uri),
        )
        for p in result.profiles
    ]
    return replace(result, profiles=profiles)


def check_answer(host: str, result: DeviceProbe, known: set[trust.Endpoint] | None) -> None:
    """RefusedAnswer naming each URI of the answer the camera's credentials may not go to."""
    uris = [
        (f"profile '{escape_controls(p.token[:40])}' {what}", uri)
        for p in usable(result).profiles
        for what, uri in (("stream", p.stream_uri), ("snapshot", p.snapshot_uri))
        if uri
    ]
    found = trust.problems(host, uris, known)
    if not found:
        return
    more = f"; and {len(found) - 3} more" if len(found) > 3 else ""
    moved = " (a technician may accept a new port by saving the camera with its password typed)"
    raise RefusedAnswer(
        f"refused the camera's answer: {'; '.join(found[:3])}{more}. Its credentials only go "
        f"to {host}, the address it was added with"
        + (moved if all("moved to port" in f for f in found) else "")
    )


def apply_probe(
    camera: Camera, result: DeviceProbe, main_token: str = "", sub_token: str = ""
) -> None:
    """Fill the camera from a probe (not saved). Unknown tokens fall back to the defaults.

    A stream URI the device returns is kept only when it is RTSP(S), a snapshot URI when it is
    HTTP(S) (usable()); the recorded profile must have one. Every URI must be on the camera's
    host (RefusedAnswer): the probe's own check, again, for a probe kept in the session.
    """
    check_answer(camera.host, result, None)
    result = usable(result)
    for name in ("manufacturer", "model", "firmware_version", "serial_number", "hardware_id"):
        setattr(camera, name, getattr(result, name)[:100])
    camera.profiles = [
        {
            **p.__dict__,
            "stream_uri": p.stream_uri,
            "snapshot_uri": p.snapshot_uri,
        }
        for p in result.profiles
    ]
    default_main, default_sub = result.default_profiles()
    main = result.profile(main_token) or default_main
    sub = result.profile(sub_token) or default_sub
    if main is not None and not main.stream_uri:
        raise CameraError(
            f"the camera gives no rtsp:// or rtsps:// stream for its profile '{main.token[:40]}'"
            " (other URIs are never stored or opened)"
        )
    set_profile(camera, "main", main)
    set_profile(camera, "sub", sub)
    camera.snapshot_uri = redact_url(main.snapshot_uri if main else "")[:500]
    camera.probed_at = timezone.now()
    camera.refusal = ""


def _device_snapshot_uri(uri: str) -> str:
    """A device's snapshot URI without credentials, or "" when it is not HTTP(S)."""
    uri = (uri or "").strip()
    ok = uri.lower().startswith(("http://", "https://")) and trust.endpoint(uri) is not None
    return redact_url(uri) if ok and uri.isprintable() and uri.isascii() else ""


def _device_stream_uri(uri: str) -> str:
    """A device's stream URI without credentials, or "" when it is not RTSP(S)."""
    try:
        return redact_url(check_stream_url(uri))
    except StreamURLError:
        return ""


def set_profile(camera: Camera, role: str, profile: Profile | dict | None) -> None:
    """Copy one profile into the camera's main_* or sub_* fields."""
    if isinstance(profile, dict):
        profile = Profile(**profile)
    p = profile or Profile(token="")
    if p.stream_uri:
        try:
            check_stream_url(p.stream_uri)
        except StreamURLError as e:
            raise CameraError(
                f"the camera's profile '{p.token[:40]}' gives a stream FFmpeg may not open ({e})"
            ) from None
    setattr(camera, f"{role}_profile_token", p.token[:100])
    setattr(camera, f"{role}_stream_uri", redact_url(p.stream_uri)[:500])
    setattr(camera, f"{role}_codec", p.encoding[:20])
    setattr(camera, f"{role}_width", p.width)
    setattr(camera, f"{role}_height", p.height)
    setattr(camera, f"{role}_fps", p.fps)


def add_onvif_camera(
    name: str,
    host: str,
    port: int,
    username: str,
    password: str,
    *,
    result: DeviceProbe | None = None,
    main_token: str = "",
    sub_token: str = "",
    **fields: Any,
) -> Camera:
    """Probe (unless a fresh probe is given) and save an ONVIF camera."""
    host = parse_onvif_address(host, port)[0]
    check_unique(name, host=host, port=port)
    result = result or probe_onvif(host, port, username, password)
    if not result.profiles:
        raise CameraError(f"{host}:{port} reported no video profile to record")
    camera = Camera(
        name=name.strip(),
        source=Camera.Source.ONVIF,
        host=host,
        onvif_port=port,
        username=username,
        password=password,
        last_seen_at=timezone.now(),
        **fields,
    )
    apply_probe(camera, result, main_token, sub_token)
    camera = _save_new(camera)
    measure_quietly(camera)
    return camera


def probe_stream(url: str, username: str, password: str) -> MediaInfo:
    """ffprobe an RTSP(S) stream with the camera's credentials; CameraError naming it."""
    timeout = float(settings.PROBE_TIMEOUT_SECONDS)
    try:
        return probe(with_credentials(url, username, password), timeout_seconds=timeout)
    except FFmpegError as e:
        # ffprobe's own line starts with the URL again ("rtsp://…: Connection refused").
        detail = redact(str(e), password).removeprefix(f"{url}: ")
        raise CameraError(f"ffprobe cannot open {url}: {detail}") from None


def set_main_stream(camera: Camera, url: str, username: str, password: str) -> None:
    """A plain-RTSP camera's recorded stream, changed: checked like a new one (rtsp/rtsps,
    then ffprobe with the credentials); the host follows the URL."""
    url, username, password = split_rtsp_url(url, username, password)
    if url != camera.main_stream_uri:
        check_unique("", url=url, exclude_pk=camera.pk)
    info = probe_stream(url, username, password)
    camera.main_stream_uri, camera.host = url[:500], urlsplit(url).hostname or ""
    camera.username, camera.password = username, password
    camera.main_codec, camera.main_fps = info.codec[:20], info.fps
    camera.main_width, camera.main_height = info.width, info.height
    camera.probed_at = timezone.now()


def set_substream(camera: Camera, url: str) -> None:
    """A plain-RTSP camera's live-view stream, checked like its main one (rtsp/rtsps, then
    ffprobe). Blank removes it: live view then falls back to the main stream."""
    if not (url or "").strip():
        set_profile(camera, "sub", None)
        return
    sub, username, password = split_rtsp_url(url, camera.username, camera.password)
    if (username, password) != (camera.username, camera.password):
        raise CameraError(
            "the substream URL carries other credentials than the camera's; a camera has "
            "one user name and password (give them in the fields, not in the URL)"
        )
    info = probe_stream(sub, username, password)
    camera.sub_stream_uri = sub[:500]
    camera.sub_codec, camera.sub_fps = info.codec[:20], info.fps
    camera.sub_width, camera.sub_height = info.width, info.height


def add_rtsp_camera(
    name: str,
    url: str,
    username: str = "",
    password: str = "",
    sub_url: str = "",
    **fields: Any,
) -> Camera:
    """Check the stream(s) with ffprobe, then save a plain-RTSP camera."""
    url, username, password = split_rtsp_url(url, username, password)
    check_unique(name, url=url)
    info = probe_stream(url, username, password)
    camera = Camera(
        name=name.strip(),
        source=Camera.Source.RTSP,
        main_stream_uri=url,
        host=urlsplit(url).hostname or "",
        username=username,
        password=password,
        main_codec=info.codec[:20],
        main_width=info.width,
        main_height=info.height,
        main_fps=info.fps,
        probed_at=timezone.now(),
        last_seen_at=timezone.now(),
        **fields,
    )
    set_substream(camera, sub_url)
    return _save_new(camera)


def add_test_pattern_camera(name: str, **fields: Any) -> Camera:
    check_unique(name)
    return _save_new(Camera(name=name.strip(), source=Camera.Source.TEST_PATTERN, **fields))


def _save_new(camera: Camera) -> Camera:
    try:
        camera.full_clean()
    except ValidationError as e:
        raise CameraError(camera.redact("; ".join(e.messages))) from None
    try:
        with transaction.atomic():
            camera.save(force_insert=True)
            outbox.report(outbox.CAMERA, camera)
    except IntegrityError:  # lost a race with another add of the same camera
        raise CameraError(f"a camera like '{camera.name}' was just added") from None
    logger.info("camera %s added (%s)", camera.name, camera.get_source_display())
    return camera


def reprobe(
    camera: Camera, note_error: bool = True, *, via: str = "cli", **audit_as: Any
) -> dict[str, list[Any]]:
    """Probe an ONVIF camera again, keeping the chosen profiles; the error lands on the row
    (unless `note_error` is False: the schedule only logs it, the recorder owns the status).
    Nobody typed the password: an answer naming another host or a new port is refused, kept
    on the row (`refusal`) and audited (`via`, `audit_as`: request= or username=).

    Returns what changed, {field: [old, new]} (e.g. a firmware update), for the audit trail.
    """
    if camera.source != Camera.Source.ONVIF:
        raise CameraError(f"{camera.name} is not an ONVIF camera")
    known = trust.known_endpoints(camera.host, camera.onvif_port, camera.stored_uris())
    try:
        result = probe_onvif(
            camera.host, camera.onvif_port, camera.username, camera.password, known
        )
    except RefusedAnswer as e:
        camera.note_refusal(str(e))
        logger.warning("camera %s: %s", camera, camera.redact(str(e)))
        answer_refused(camera, camera.refusal, via=via, **audit_as)
        raise
    except CameraError as e:
        if note_error:
            Camera.objects.filter(pk=camera.pk).update(last_error=camera.redact(str(e))[:2000])
            camera.last_error = camera.redact(str(e))[:2000]
        raise
    before = {f: getattr(camera, f) for f in PROVENANCE_FIELDS}
    apply_probe(camera, result, camera.main_profile_token, camera.sub_profile_token)
    camera.last_error = ""
    camera.last_seen_at = timezone.now()
    with transaction.atomic():
        camera.save(
            update_fields=[*PROBE_FIELDS, "refusal", "last_error", "last_seen_at", "updated_at"]
        )
        outbox.report(outbox.CAMERA, camera)
    measure_quietly(camera)
    return {f: [old, getattr(camera, f)] for f, old in before.items() if getattr(camera, f) != old}
