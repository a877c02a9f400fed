"""ALLOWED_HOSTS when none is configured: the names and addresses this box answers on.

"Power it and walk away" means the admin must answer on whatever LAN or ZeroTier address the box
got, which nobody configured. `*` would also answer to any name, which lets a web page an
officer opens elsewhere rebind its own name to the box (DNS rebinding) and to forged Host
headers. This list is the box's own: localhost, its host name (and `.local`), and every address
its interfaces have now (re-read every few seconds, so a ZeroTier address that arrives after
start works without a restart). Set CRIMEBOX_ALLOWED_HOSTS to name the box explicitly.
"""

import socket
import threading
import time
from collections.abc import Iterator

import ifaddr

REFRESH_SECONDS = 10


def interface_addresses() -> list[str]:
    """Every address of every interface, as a Host header spells it ([...] for IPv6)."""
    out = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, tuple):  # IPv6: (address, flowinfo, scope_id)
                if not ip.ip[0].lower().startswith("fe80:"):  # link-local needs a zone id
                    out.append(f"[{ip.ip[0].lower()}]")
            else:
                out.append(ip.ip)
    return out


class BoxHosts(list[str]):
    """The list Django reads as ALLOWED_HOSTS: the fixed names, and when iterated (as Django's
    validate_host does) the current addresses after them. A list because settings must be one."""

    def __init__(self) -> None:
        name = socket.gethostname().lower()
        self.names = ["localhost", "127.0.0.1", "[::1]", name, f"{name}.local"]
        super().__init__(self.names)
        self._lock = threading.Lock()
        self._addresses: list[str] = []
        self._read_at = float("-inf")

    def addresses(self) -> list[str]:
        with self._lock:
            if time.monotonic() - self._read_at > REFRESH_SECONDS:
                try:
                    self._addresses = interface_addresses()
                except OSError:
                    pass  # keep the last list
                self._read_at = time.monotonic()
            return self._addresses

    def __iter__(self) -> Iterator[str]:
        return iter(self.names + self.addresses())

    def __repr__(self) -> str:
        return f"BoxHosts({self.names + self.addresses()!r})"
