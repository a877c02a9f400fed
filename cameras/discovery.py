"""WS-Discovery of ONVIF cameras on the camera LAN: one multicast Probe, ProbeMatches collected.

A small client of its own rather than WSDiscovery's threaded daemon: that one accepts only
the spec's exact ProbeMatches envelope (measured: it ignores ipycam's bare ProbeMatch, and
cameras in the field are no more careful), and sleeps its whole timeout even when every
camera has answered. Only IPv4 LAN interfaces are probed, with a TTL of 1.
"""

import logging
import select
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from urllib.parse import unquote, urlsplit

import ifaddr

logger = logging.getLogger(__name__)

GROUP = ("239.255.255.250", 3702)
NAME_SCOPE = "onvif://www.onvif.org/name/"
HARDWARE_SCOPE = "onvif://www.onvif.org/hardware/"
LOCATION_SCOPE = "onvif://www.onvif.org/location/"
# ZeroTier links the box to the datacenter, not to cameras: never multicast there.
SKIPPED_INTERFACE_PREFIXES = ("zt", "lo")

PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>
<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>
<a:MessageID>{message_id}</a:MessageID>
<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>
</s:Envelope>"""


@dataclass
class FoundDevice:
    endpoint: str
    xaddrs: list[str]
    scopes: list[str] = field(default_factory=list)
    types: str = ""
    host: str = ""
    port: int = 80
    name: str = ""
    hardware: str = ""
    location: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def lan_addresses() -> list[str]:
    """IPv4 addresses of this box's LAN interfaces (not loopback, not ZeroTier)."""
    found = []
    for adapter in ifaddr.get_adapters():
        if adapter.nice_name.startswith(SKIPPED_INTERFACE_PREFIXES):
            continue
        found += [
            ip.ip for ip in adapter.ips if isinstance(ip.ip, str) and not ip.ip.startswith("127.")
        ]
    return found


class NoCameraNetwork(OSError):
    """The box has no interface to probe on: saying "no device answered" would mislead."""


def discover(timeout: float = 3.0, addresses: list[str] | None = None) -> list[FoundDevice]:
    """ONVIF devices answering a Probe within `timeout` seconds, sorted by host.

    NoCameraNetwork (an OSError, as every failure here) when there is no LAN interface to ask.
    """
    if addresses is None:
        addresses = lan_addresses()
    if not addresses:
        raise NoCameraNetwork(
            "there is no camera network to ask: this box has no network interface besides "
            "loopback and ZeroTier (connect the camera switch and try again)"
        )
    message_id = f"urn:uuid:{uuid.uuid4()}"
    found: dict[str, FoundDevice] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP) as sock:
        sock.bind(("0.0.0.0", 0))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sent = _send_probes(
            sock,
            PROBE.format(message_id=message_id).encode(),
            addresses,
        )
        deadline = time.monotonic() + timeout
        while sent and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                break
            data, sender = sock.recvfrom(65535)
            for device in parse_matches(data, message_id):
                found.setdefault(device.endpoint or device.xaddrs[0], device)
    return sorted(found.values(), key=lambda d: (d.host, d.port))


def _send_probes(sock: socket.socket, probe: bytes, addresses: list[str]) -> int:
    sent = 0
    for address in addresses:
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
            # UDP may drop one; the spec repeats the Probe, cameras de-duplicate by MessageID.
            for _ in range(2):
                sock.sendto(probe, GROUP)
            sent += 1
        except OSError as e:
            logger.warning("WS-Discovery probe on %s failed: %s", address, e)
    return sent


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_matches(data: bytes, message_id: str = "") -> list[FoundDevice]:
    """Devices in one ProbeMatch(es) datagram; [] for anything else."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # no entity games from the LAN
        return []
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return []
    relates = [e.text for e in root.iter() if _local(e.tag) == "RelatesTo"]
    if message_id and relates and relates[0] and relates[0].strip() != message_id:
        return []  # an answer to someone else's probe
    return [d for m in root.iter() if _local(m.tag) == "ProbeMatch" if (d := _device(m))]


def _device(match: ET.Element) -> FoundDevice | None:
    values = {_local(e.tag): (e.text or "").strip() for e in match.iter()}
    xaddrs = [x for x in values.get("XAddrs", "").split() if x.startswith("http")]
    if not xaddrs:
        return None
    url = urlsplit(xaddrs[0])
    scopes = _split_scopes(values.get("Scopes", ""))
    device = FoundDevice(
        endpoint=values.get("Address", ""),
        xaddrs=xaddrs,
        scopes=scopes,
        types=values.get("Types", ""),
        host=url.hostname or "",
        port=url.port or (443 if url.scheme == "https" else 80),
    )
    for scope in scopes:
        for prefix, attr in (
            (NAME_SCOPE, "name"),
            (HARDWARE_SCOPE, "hardware"),
            (LOCATION_SCOPE, "location"),
        ):
            if scope.startswith(prefix) and not getattr(device, attr):
                setattr(device, attr, unquote(scope[len(prefix) :]))
    return device


def _split_scopes(text: str) -> list[str]:
    """Scopes are space-separated URIs; some cameras leave spaces unescaped inside one."""
    scopes: list[str] = []
    for token in text.split():
        if "://" in token or not scopes:
            scopes.append(token)
        else:
            scopes[-1] += " " + token
    return scopes
