"""Leaflet is vendored, pinned and licensed: the committed files are the ones the pin names."""

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "rtcc" / "static" / "rtcc" / "vendor" / "leaflet"
SCRIPT = VENDOR.parents[3] / "refresh_leaflet.sh"


def test_leaflet_matches_its_pinned_sha256s_and_keeps_its_licence():
    script = SCRIPT.read_text()
    readme = (VENDOR / "README.md").read_text()
    for name, var in (("leaflet.js", "SHA256_JS"), ("leaflet.css", "SHA256_CSS")):
        pinned = re.search(rf"^{var}=([0-9a-f]{{64}})$", script, re.M)[1]
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == pinned, name
        assert f"sha256 (dist/{name}): {pinned}" in readme
    assert "BSD 2-Clause License" in (VENDOR / "LICENSE.txt").read_text()
    version = re.search(r"^PINNED=(\S+)$", script, re.M)[1]
    assert f"Leaflet {version}" in readme
    assert (VENDOR / "images" / "marker-icon.png").is_file()
