#!/usr/bin/env bash
# Installs the test peers that are not Debian packages: the ONVIF test camera (ipycam, pure
# Python + numpy + OpenCV) in its own venv, .venv-ipycam beside the project's .venv.
# Idempotent and quick on re-runs: it does nothing when the venv matches the pinned list.
# Run by deploy/bootstrap.sh test, as root, before pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${CRIMEBOX_IPYCAM_VENV:-$(pwd)/.venv-ipycam}
REQ=tests/peers/requirements-ipycam.txt
STAMP=$VENV/.crimebox-requirements

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# OpenCV's wheel links libGL and GLib; `unshare`/`nsenter`/`ip` build the private network
# namespace the camera runs in.
missing=()
for p in libgl1 libglib2.0-0 iproute2 util-linux; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "peers: apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if [ -x "$VENV/bin/python" ] && cmp -s "$REQ" "$STAMP" \
   && "$VENV/bin/python" -c "import ipycam" 2>/dev/null; then
  exit 0
fi
echo "peers: installing the ONVIF test camera (ipycam) into $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
cp "$REQ" "$STAMP"
