#!/usr/bin/env bash
# Installs the test peers that are not Debian packages: the ONVIF test camera (ipycam, pure
# Python + numpy + OpenCV) in its own venv, .venv-ipycam beside the project's .venv.
# and FerretDB (the datacenter's MongoDB). Idempotent and quick on re-runs: it does nothing
# when the venv matches the pinned list and the FerretDB binary is cached.
# Run by deploy/bootstrap.sh test, as root, before pytest.
#   tests/peers/install.sh ferretdb   FerretDB only (no root needed with CRIMEBOX_PEERS_CACHE set):
#                                     what `deploy/bootstrap.sh rtcc` runs for its local ledger
set -euo pipefail
ONLY=${1:-all}
cd "$(dirname "$0")/../.."
VENV=${CRIMEBOX_IPYCAM_VENV:-$(pwd)/.venv-ipycam}
REQ=tests/peers/requirements-ipycam.txt
STAMP=$VENV/.crimebox-requirements

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ "$ONLY" = all ]; then
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

if ! { [ -x "$VENV/bin/python" ] && cmp -s "$REQ" "$STAMP" \
        && "$VENV/bin/python" -c "import ipycam" 2>/dev/null; }; then
  echo "peers: installing the ONVIF test camera (ipycam) into $VENV"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$STAMP"
fi
fi  # all

# The datacenter's MongoDB, for the replication tests: FerretDB (MongoDB wire protocol, SQLite
# backend in pure Go) built from its Go module. `go install ...@version` would build a binary that
# panics at start: build/version/version.txt is not part of a module download, so the module is
# copied, the file written, and the binary built from the copy. Cached outside the repository so
# re-runs (CI runs on the same machine) are instant.
FERRETDB_VERSION=v1.24.2
FERRETDB_CACHE=${CRIMEBOX_PEERS_CACHE:-/var/cache/crimebox-peers}
FERRETDB_BIN=$FERRETDB_CACHE/ferretdb-$FERRETDB_VERSION
if [ ! -x "$FERRETDB_BIN" ]; then
  command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
  if ! command -v go >/dev/null; then
    echo "peers: Go >= 1.24 is needed to build FerretDB (the datacenter in the sync tests)" >&2
    exit 1
  fi
  echo "peers: building FerretDB $FERRETDB_VERSION into $FERRETDB_BIN"
  mkdir -p "$FERRETDB_CACHE"
  export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  cp -r "$src/." "$build/"
  chmod -R u+w "$build"
  echo "$FERRETDB_VERSION" > "$build/build/version/version.txt"
  (cd "$build" && CGO_ENABLED=0 go build -trimpath -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb)
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
fi
ln -sf "$FERRETDB_BIN" "$FERRETDB_CACHE/ferretdb"
