"""Where a camera's credentials may go: only to the host it was added with.

A camera answers ONVIF with its stream and snapshot URIs; a hostile or hijacked one answered
with `rtsp://<another host>/…`, and the recorder's FFmpeg and the still view then sent its
password there. So every URI a device gives is checked against the camera's own host (as the
technician typed it; a camera added by name may answer with an address that name resolves to,
nothing else), and, when no technician confirmed the probe with the password (a re-probe, the
hourly schedule), against the ports the camera already used.
"""

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from crimebox.logfilters import escape_controls

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
Endpoint = tuple[str, int]


def normal_host(host: str) -> str:
    """A host as compared: lower case, no brackets, an IP address in its canonical form."""
    host = (host or "").strip().strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def endpoint(uri: str) -> Endpoint | None:
    """(host, port) a URI connects to, the scheme's port when none is given; None if unknown."""
    try:
        parts = urlsplit(uri or "")
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname or not port:
        return None
    return normal_host(parts.hostname), port


def shown(uri: str) -> str:
    """scheme://host:port of a device's URI, escaped: its path is the device's text, not ours."""
    point = endpoint(uri)
    scheme = urlsplit(uri or "").scheme.lower() if point else ""
    where = f"{scheme}://{point[0]}:{point[1]}" if point else repr(uri[:60])
    return escape_controls(where)


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(normal_host(host))
    except ValueError:
        return False
    return True


def same_host(uri_host: str, host: str) -> bool:
    """`uri_host` is the camera's `host`: the same, or an address the camera's name has."""
    uri_host, host = normal_host(uri_host), normal_host(host)
    if uri_host == host:
        return True
    if not host or is_address(host) or not is_address(uri_host):
        return False
    try:  # the name the technician typed; the answer's address must be one of its own
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return uri_host in {normal_host(str(info[4][0])) for info in found}


def on_host(uri: str, host: str) -> bool:
    """The URI connects to `host` (the camera's own address)."""
    point = endpoint(uri)
    return point is not None and same_host(point[0], host)


def known_endpoints(host: str, port: int, uris: Iterable[str]) -> set[Endpoint]:
    """What the camera's credentials were confirmed for: its ONVIF address and every stored
    URI on its own host."""
    known = {(normal_host(host), int(port))}
    for uri in uris:
        point = endpoint(uri)
        if point is not None and same_host(point[0], host):
            known.add(point)
    return known


def problems(
    host: str, uris: Iterable[tuple[str, str]], known: set[Endpoint] | None = None
) -> list[str]:
    """Why these (what, uri) pairs may not get the camera's credentials; [] when they may.

    `known`: the endpoints already confirmed (None: a technician typed the password for this
    probe, so any port on the camera's host is confirmed).
    """
    found = []
    for what, uri in uris:
        point = endpoint(uri)
        if point is None or not same_host(point[0], host):
            found.append(f"its {what} is on another host ({shown(uri)})")
        elif known is not None and point not in known:
            found.append(f"its {what} moved to port {point[1]} ({shown(uri)})")
    return found
