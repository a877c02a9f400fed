"""hls.js is vendored, pinned and licensed: the committed file is the one the pin names."""

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "live" / "static" / "live" / "vendor"
SCRIPT = VENDOR.parents[2] / "refresh_hlsjs.sh"


def test_hls_js_matches_its_pinned_sha256_and_keeps_its_licence():
    pinned = re.search(r"^SHA256=([0-9a-f]{64})$", SCRIPT.read_text(), re.M)[1]
    digest = hashlib.sha256((VENDOR / "hls.min.js").read_bytes()).hexdigest()
    assert digest == pinned
    assert pinned in (VENDOR / "README.md").read_text()
    assert "Apache License" in (VENDOR / "hls.js-LICENSE.txt").read_text()
    version = re.search(r"^PINNED=(\S+)$", SCRIPT.read_text(), re.M)[1]
    assert f"hls.js {version}" in (VENDOR / "README.md").read_text()
