"""cameras/discovery.py: a real WS-Discovery round trip with ipycam, and reply parsing."""

import select
import socket

import pytest
from django.core.management import CommandError, call_command

from cameras.discovery import NoCameraNetwork, discover, lan_addresses, parse_matches

STANDARD = b"""<?xml version="1.0"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header>
<a:RelatesTo>urn:uuid:1</a:RelatesTo></s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>
<a:EndpointReference><a:Address>urn:uuid:cam-1</a:Address></a:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter</d:Types>
<d:Scopes>onvif://www.onvif.org/name/AXIS%20P1448 onvif://www.onvif.org/hardware/P1448
 onvif://www.onvif.org/location/city/Springfield</d:Scopes>
<d:XAddrs>http://192.168.1.64/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs>
</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"""


def test_discovers_ipycam_in_its_namespace(onvif_camera, monkeypatch):
    with onvif_camera.netns():
        assert set(lan_addresses()) == {"10.203.0.1", "10.203.0.2"}
        waits = watch_selects(monkeypatch)
        devices = discover(timeout=1.0)
    assert [(d.host, d.port) for d in devices] == [(onvif_camera.host, onvif_camera.port)]
    device = devices[0]
    assert device.name == onvif_camera.name  # ipycam leaves the spaces unescaped
    assert device.endpoint.startswith("urn:uuid:")
    assert device.xaddrs == [f"http://{onvif_camera.host}:8080/onvif/device_service"]
    assert "NetworkVideoTransmitter" in device.types
    # It waits for answers no longer than asked: every select() is bounded by what is left
    # of the 1 s (the machine's load changes how long that takes, not what is asked for).
    assert waits and all(0 <= w <= 1.0 for w in waits)
    assert all(b < a for a, b in zip(waits, waits[1:], strict=False))  # one deadline


def test_no_interfaces_means_no_probe_no_wait_and_says_so(monkeypatch):
    waits = watch_selects(monkeypatch)
    sent = []
    monkeypatch.setattr(socket.socket, "sendto", lambda self, *a: sent.append(a))
    with pytest.raises(NoCameraNetwork, match="no camera network to ask"):
        discover(timeout=5, addresses=[])
    assert sent == [] and waits == []  # nothing sent, so nothing waited for


def test_discover_command_on_a_loopback_only_box(monkeypatch):
    monkeypatch.setattr("cameras.discovery.lan_addresses", lambda: [])
    with pytest.raises(CommandError, match="no camera network to ask"):
        call_command("discover_cameras", "--timeout", "1")


def watch_selects(monkeypatch) -> list[float]:
    """The timeouts discover() passes to select(), which still runs for real."""
    waits: list[float] = []
    real = select.select

    def select_(r, w, x, timeout=None):
        waits.append(timeout)
        return real(r, w, x, timeout)

    monkeypatch.setattr("cameras.discovery.select.select", select_)
    return waits


def test_parse_standard_probe_matches():
    [device] = parse_matches(STANDARD, "urn:uuid:1")
    assert (device.host, device.port, device.endpoint) == ("192.168.1.64", 80, "urn:uuid:cam-1")
    assert (device.name, device.hardware) == ("AXIS P1448", "P1448")
    assert device.location == "city/Springfield"
    assert len(device.xaddrs) == 2


def test_parse_ignores_other_probes_garbage_and_entities():
    assert parse_matches(STANDARD, "urn:uuid:someone-else") == []
    assert parse_matches(b"not xml") == []
    assert parse_matches(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>') == []
    assert parse_matches(STANDARD.replace(b"http://", b"ftp://")) == []
