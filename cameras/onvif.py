"""The one wrapper around the ONVIF library (onvif-zeep-async): synchronous, bounded, redacted.

Every function runs its own event loop (`asyncio.run`), bounds every network call by
settings.PROBE_TIMEOUT_SECONDS, always closes the client, and raises only ONVIFError, whose
message is one readable line without credentials.
"""

import asyncio
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import zeep.exceptions
from django.conf import settings
from onvif import ONVIFCamera
from onvif.exceptions import ONVIFAuthError, ONVIFTimeoutError
from onvif.exceptions import ONVIFError as LibraryError

from crimebox.redaction import redact, redact_text, redact_url

from . import trust
from .models import stream_label

logger = logging.getLogger(__name__)

T = TypeVar("T")

# ffprobe's codec names, so a probed camera and an ffprobe'd RTSP URL read the same.
CODECS = {"H264": "h264", "H265": "hevc", "HEVC": "hevc", "JPEG": "mjpeg", "MPEG4": "mpeg4"}
# A DNS name or IPv4 address, or an IPv6 address with or without brackets.
_HOST = re.compile(
    r"^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]+|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$"
)
_AUTH_WORDS = re.compile(
    r"not ?authori[sz]ed|unauthori[sz]ed|authenticat|authority|password", re.IGNORECASE
)


class ONVIFError(Exception):
    """A camera could not be probed; the message says why, in one line, without secrets."""


class ONVIFRefused(ONVIFError):
    """The device pointed its services at another host: nothing more was sent there."""


@dataclass
class Profile:
    token: str
    name: str = ""
    encoding: str = ""
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    stream_uri: str = ""
    snapshot_uri: str = ""
    ptz: bool = False  # the profile has a PTZ configuration: the camera can be steered

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)

    def label(self) -> str:
        return profile_label(asdict(self))


def profile_label(p: dict) -> str:
    """A profile (as stored in Camera.profiles) as people read it, for choices and lists."""
    fmt = stream_label(
        p.get("encoding"), p.get("width"), p.get("height"), p.get("fps"), "unknown size"
    )
    return f"{p.get('name') or p['token']} ({fmt})"


@dataclass
class DeviceProbe:
    manufacturer: str = ""
    model: str = ""
    firmware_version: str = ""
    serial_number: str = ""
    hardware_id: str = ""
    profiles: list[Profile] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DeviceProbe":
        profiles = [Profile(**p) for p in data.get("profiles", [])]
        return cls(**{**data, "profiles": profiles})

    def profile(self, token: str) -> Profile | None:
        return next((p for p in self.profiles if p.token == token), None)

    def default_profiles(self) -> tuple[Profile | None, Profile | None]:
        """(main, sub): the highest resolution records, the lowest serves live view."""
        usable = [p for p in self.profiles if p.stream_uri] or self.profiles
        if not usable:
            return None, None
        ranked = sorted(usable, key=lambda p: (p.pixels, p.fps or 0))
        return ranked[-1], ranked[0]


def validate_host(host: str) -> str:
    """The host stripped, or ONVIFError when it cannot be a host name or IP address."""
    host = (host or "").strip()
    if not host or len(host) > 253 or not _HOST.match(host):
        raise ONVIFError(f"'{redact_text(host)[:60]}' is not a valid host name or IP address")
    if ":" in host:  # only an IPv6 address has colons: "127.0.0.1:18080" is host and port
        try:
            ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            raise ONVIFError(
                f"'{redact_text(host)[:60]}' is not a host name or IP address (give the "
                "port in the port field)"
            ) from None
    return host.strip("[]")


def probe_device(
    host: str, port: int, username: str, password: str, timeout: float | None = None
) -> DeviceProbe:
    """Device information, media profiles and their stream/snapshot URIs (all redacted)."""
    host = validate_host(host)
    if not 1 <= int(port) <= 65535:
        raise ONVIFError(f"port {port} is out of range (1-65535)")
    timeout = float(timeout or settings.PROBE_TIMEOUT_SECONDS)
    where = f"{host}:{port}"
    try:
        return asyncio.run(_probe(host, int(port), username, password, timeout))
    except ONVIFRefused as exc:
        logger.warning("ONVIF probe of %s refused: %s", where, exc)
        raise ONVIFRefused(redact(str(exc), password, min_length=4)) from None
    except Exception as exc:  # one domain error; never a library type or a password
        # A password of a few characters cannot be told apart from ordinary words; longer
        # ones are removed wherever a library may have echoed them (the log line too).
        message = redact(explain(exc, where, timeout), password, min_length=4)
        logger.info("ONVIF probe of %s failed: %s", where, message)
        raise ONVIFError(message) from None


@dataclass(frozen=True)
class ClockSample:
    """A camera's clock against the box's: `offset` seconds (camera minus box; negative: the
    camera is slow), known to within +/- `uncertainty` seconds (half the request's round trip
    plus half a second: ONVIF's DateTime has whole seconds)."""

    box_utc: datetime  # the box's clock at the middle of the request
    camera_utc: datetime  # what the camera said, in UTC
    round_trip: float
    offset: float
    uncertainty: float


def read_clock(
    host: str, port: int, username: str, password: str, timeout: float | None = None
) -> ClockSample:
    """The camera's UTC clock (GetSystemDateAndTime), timed against the box's clock."""
    host = validate_host(host)
    timeout = float(timeout or settings.PROBE_TIMEOUT_SECONDS)
    where = f"{host}:{port}"
    try:
        return asyncio.run(_read_clock(host, int(port), username, password, timeout))
    except Exception as exc:
        message = redact(explain(exc, where, timeout), password, min_length=4)
        logger.info("ONVIF clock of %s not read: %s", where, message)
        raise ONVIFError(message) from None


async def _read_clock(
    host: str, port: int, username: str, password: str, timeout: float
) -> ClockSample:
    cam = ONVIFCamera(host, port, username or None, password or None, no_cache=True)
    try:
        devicemgmt = await cam.create_devicemgmt_service()
        sent, t0 = datetime.now(UTC), time.monotonic()
        answer = await _within(devicemgmt.GetSystemDateAndTime(), timeout)
        round_trip = time.monotonic() - t0
    finally:
        try:
            await _within(cam.close(), timeout)
        except Exception:
            logger.debug("closing the ONVIF client of %s:%s failed", host, port)
    camera_utc = camera_datetime(answer)
    box_utc = sent + timedelta(seconds=round_trip / 2)
    offset = (camera_utc - box_utc).total_seconds() + 0.5
    return ClockSample(box_utc, camera_utc, round_trip, offset, round_trip / 2 + 0.5)


def set_clock(
    host: str, port: int, username: str, password: str, timeout: float | None = None
) -> None:
    """Set the camera's UTC clock to the box's (SetSystemDateAndTime, Manual)."""
    host = validate_host(host)
    timeout = float(timeout or settings.PROBE_TIMEOUT_SECONDS)
    where = f"{host}:{port}"
    try:
        asyncio.run(_set_clock(host, int(port), username, password, timeout))
    except Exception as exc:
        message = redact(explain(exc, where, timeout), password, min_length=4)
        logger.info("ONVIF clock of %s not set: %s", where, message)
        raise ONVIFError(message) from None


async def _set_clock(host: str, port: int, username: str, password: str, timeout: float) -> None:
    cam = ONVIFCamera(
        host, port, username or None, password or None, no_cache=True, adjust_time=True
    )
    try:
        devicemgmt = await cam.create_devicemgmt_service()
        now = datetime.now(UTC)
        request = {
            "DateTimeType": "Manual",
            "DaylightSavings": False,
            "TimeZone": {"TZ": "UTC0"},
            "UTCDateTime": {
                "Date": {"Year": now.year, "Month": now.month, "Day": now.day},
                "Time": {"Hour": now.hour, "Minute": now.minute, "Second": now.second},
            },
        }
        await _within(devicemgmt.SetSystemDateAndTime(request), timeout)
    finally:
        try:
            await _within(cam.close(), timeout)
        except Exception:
            logger.debug("closing the ONVIF client of %s:%s failed", host, port)


@dataclass(frozen=True)
class PTZPosition:
    pan: float | None = None
    tilt: float | None = None
    zoom: float | None = None
    moving: bool = False


# The PTZ requests the box sends, and nothing else.
PTZ_METHODS = {
    "ContinuousMove",
    "Stop",
    "GotoHomePosition",
    "GetPresets",
    "GotoPreset",
    "SetPreset",
    "GetStatus",
}


def ptz_request(
    host: str, port: int, username: str, password: str, method: str, params: dict
) -> Any:
    """One PTZ request (ContinuousMove, Stop, GotoPreset, ...); presets come back as
    [{"token", "name"}], a status as a PTZPosition. ONVIFError on any failure."""
    if method not in PTZ_METHODS:
        raise ValueError(method)
    host = validate_host(host)
    timeout = float(settings.PROBE_TIMEOUT_SECONDS)
    where = f"{host}:{port}"
    try:
        answer = asyncio.run(_ptz(host, int(port), username, password, method, params, timeout))
    except Exception as exc:
        message = redact(explain(exc, where, timeout), password, min_length=4)
        logger.info("ONVIF PTZ %s to %s failed: %s", method, where, message)
        raise ONVIFError(message) from None
    if method == "GetPresets":
        return [_preset(p) for p in answer or []]
    if method == "GetStatus":
        return _position(answer)
    if method == "SetPreset":
        return str(getattr(answer, "PresetToken", answer) or "")
    return None


async def _ptz(
    host: str, port: int, username: str, password: str, method: str, params: dict, timeout: float
) -> Any:
    cam = ONVIFCamera(
        host, port, username or None, password or None, no_cache=True, adjust_time=True
    )
    try:
        await _within(cam.update_xaddrs(), timeout)
        _check_services(cam.xaddrs, host)
        service = await cam.create_ptz_service()
        return await _within(getattr(service, method)(params), timeout)
    finally:
        try:
            await _within(cam.close(), timeout)
        except Exception:
            logger.debug("closing the ONVIF client of %s:%s failed", host, port)


def _preset(raw: Any) -> dict:
    """A preset as {"token", "name", "pan", "tilt", "zoom"} (None where the camera omits it)."""
    pos = getattr(raw, "PTZPosition", None)
    pan_tilt, zoom = getattr(pos, "PanTilt", None), getattr(pos, "Zoom", None)
    return {
        "token": str(raw.token),
        "name": _text(raw, "Name"),
        "pan": _number(pan_tilt, "x"),
        "tilt": _number(pan_tilt, "y"),
        "zoom": _number(zoom, "x"),
    }


def _position(status: Any) -> PTZPosition:
    pos = getattr(status, "Position", None)
    pan_tilt, zoom = getattr(pos, "PanTilt", None), getattr(pos, "Zoom", None)
    move = getattr(status, "MoveStatus", None)
    moving = any(
        str(getattr(move, axis, "") or "").upper() == "MOVING" for axis in ("PanTilt", "Zoom")
    )
    return PTZPosition(
        pan=_number(pan_tilt, "x"), tilt=_number(pan_tilt, "y"), zoom=_number(zoom, "x"),
        moving=moving,
    )  # fmt: skip


def _number(obj: Any, name: str) -> float | None:
    value = getattr(obj, name, None) if obj is not None else None
    return round(float(value), 4) if value is not None else None


def camera_datetime(answer: Any) -> datetime:
    """The UTCDateTime of a GetSystemDateAndTime answer (ONVIFError when it has none)."""
    utc = getattr(answer, "UTCDateTime", None)
    # Either may be missing: the AttributeError below is the answer with none.
    date: Any = getattr(utc, "Date", None)
    tod: Any = getattr(utc, "Time", None)
    try:
        return datetime(
            int(date.Year), int(date.Month), int(date.Day),
            int(tod.Hour), int(tod.Minute), int(tod.Second), tzinfo=UTC,
        )  # fmt: skip
    except (AttributeError, TypeError, ValueError):
        raise ONVIFError("the camera's answer has no valid UTC date and time") from None


async def _within(aw: Awaitable[T], timeout: float) -> T:
    return await asyncio.wait_for(aw, timeout)


async def _probe(host: str, port: int, username: str, password: str, timeout: float) -> DeviceProbe:
    # adjust_time: cameras with a wrong clock reject WS-Security digests; the library then
    # signs with the camera's own time (one extra unauthenticated round trip).
    cam = ONVIFCamera(
        host, port, username or None, password or None, no_cache=True, adjust_time=True
    )
    try:
        await _within(cam.update_xaddrs(), timeout)
        _check_services(cam.xaddrs, host)
        devicemgmt = await cam.create_devicemgmt_service()
        info = await _within(devicemgmt.GetDeviceInformation(), timeout)
        media = await cam.create_media_service()
        raw_profiles = await _within(media.GetProfiles(), timeout) or []
        profiles = [
            await _profile(media, p, timeout)
            for p in raw_profiles
            if getattr(p, "VideoEncoderConfiguration", None) is not None
        ]
    finally:
        try:
            await _within(cam.close(), timeout)
        except Exception:  # closing must never hide the real outcome
            logger.debug("closing the ONVIF client of %s:%s failed", host, port)
    return DeviceProbe(
        manufacturer=_text(info, "Manufacturer"),
        model=_text(info, "Model"),
        firmware_version=_text(info, "FirmwareVersion"),
        serial_number=_text(info, "SerialNumber"),
        hardware_id=_text(info, "HardwareId"),
        profiles=profiles,
    )


def _check_services(xaddrs: dict[str, str], host: str) -> None:
    """ONVIFRefused when the device names a service on another host: the library would send
    it the WS-Security token (a digest of the password) with every request."""
    for namespace, xaddr in xaddrs.items():
        if not trust.on_host(xaddr or "", host):
            service = namespace.rstrip("/").split("/")[-2:-1]
            raise ONVIFRefused(
                f"refused the camera's answer: its {'/'.join(service)} service is on another "
                f"host ({trust.shown(xaddr or '')}). Its credentials only go to {host}, the "
                "address it was added with"
            )


async def _profile(media: Any, raw: Any, timeout: float) -> Profile:
    enc = raw.VideoEncoderConfiguration
    resolution = getattr(enc, "Resolution", None)
    rate: Any = getattr(enc, "RateControl", None)
    encoding = str(getattr(enc, "Encoding", "") or "")
    stream = await _within(
        media.GetStreamUri(
            {
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                "ProfileToken": raw.token,
            }
        ),
        timeout,
    )
    try:
        snapshot = await _within(media.GetSnapshotUri({"ProfileToken": raw.token}), timeout)
    except zeep.exceptions.Fault:  # snapshots are optional in ONVIF Profile S
        snapshot = None
    return Profile(
        token=str(raw.token),
        name=str(getattr(raw, "Name", "") or ""),
        encoding=CODECS.get(encoding.upper(), encoding.lower()),
        width=getattr(resolution, "Width", None),
        height=getattr(resolution, "Height", None),
        fps=float(rate.FrameRateLimit) if getattr(rate, "FrameRateLimit", None) else None,
        stream_uri=redact_url(_text(stream, "Uri")),
        snapshot_uri=redact_url(_text(snapshot, "Uri")),
        ptz=getattr(raw, "PTZConfiguration", None) is not None,
    )


def _text(obj: Any, name: str) -> str:
    value = getattr(obj, name, None) if obj is not None else None
    return str(value).strip() if value is not None else ""


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen:
        seen.append(link)
        link = link.__cause__ or link.__context__
    return seen


def explain(exc: BaseException, where: str, timeout: float) -> str:
    """One readable line for what went wrong talking to `where`."""
    chain = _chain(exc)

    def find(*types: type[BaseException]) -> Any:
        return next((e for e in chain if isinstance(e, types)), None)

    wrong_credentials = f"{where} rejected the username or password (wrong credentials)"
    if (own := find(ONVIFError)) is not None:
        return str(own)
    if find(TimeoutError, ONVIFTimeoutError) is not None:
        return f"{where} did not answer within {timeout:g} s (timeout)"
    if find(ONVIFAuthError) is not None:
        return wrong_credentials
    if (fault := find(zeep.exceptions.Fault)) is not None:
        return _explain_fault(fault, where)
    if (transport := find(zeep.exceptions.TransportError)) is not None:
        if transport.status_code in (401, 403):
            return wrong_credentials
        return f"{where} is not an ONVIF device (HTTP {transport.status_code}, no ONVIF answer)"
    if find(zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError) is not None:
        return f"{where} is not an ONVIF device (its answer is not SOAP)"
    if find(ConnectionRefusedError) is not None:
        return f"{where} refused the connection (unreachable: nothing listens on that port)"
    if (
        find(
            aiohttp.ClientResponseError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError
        )
        is not None
    ):
        return f"{where} is not an ONVIF device (it does not answer ONVIF requests)"
    if find(socket.gaierror) is not None:
        return f"cannot reach {where}: no such host name (DNS lookup failed)"
    if (oserr := find(OSError)) is not None and getattr(oserr, "strerror", None):
        return f"cannot reach {where} (unreachable: {oserr.strerror})"
    last = chain[-1]
    if isinstance(last, LibraryError):
        return f"ONVIF error from {where}: {redact_text(str(last))[:200]}"
    # Library internals (an aiohttp InvalidUrlClientError, a ValueError from parsing the
    # device's answer) say nothing to the person typing: the log keeps the details.
    logger.info("ONVIF probe of %s: %s: %s", where, type(last).__name__, redact_text(str(last)))
    return f"the ONVIF probe of {where} failed: its answer could not be understood"


def _explain_fault(fault: zeep.exceptions.Fault, where: str) -> str:
    subcodes = " ".join(str(s) for s in (fault.subcodes or []))
    if _AUTH_WORDS.search(f"{fault.message} {subcodes}"):
        return f"{where} rejected the username or password (wrong credentials)"
    if fault.code is None:  # zeep found no SOAP Fault element: an HTML page or the like
        return f"{where} is not an ONVIF device (it answered with a web page, not SOAP)"
    return f"{where} refused the ONVIF request: {redact_text(str(fault.message))[:200]}"
