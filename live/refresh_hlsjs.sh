#!/usr/bin/env bash
# Fetch hls.js from the npm registry (npm pack: the registry's own tarball and integrity
# check) and put its dist/hls.min.js and LICENSE under live/static/live/vendor/.
#   live/refresh_hlsjs.sh            re-fetch the pinned version, fail unless its sha256 matches
#   live/refresh_hlsjs.sh 1.6.20     move the pin: prints the new sha256 to put in README.md
set -euo pipefail
cd "$(dirname "$0")/static/live/vendor"
PINNED=1.6.19
SHA256=72b87a6e58db623feca73ab370970c1126ec06eb3dcd0a67fd14b47b6340b820
VERSION=${1:-$PINNED}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "hls.js@$VERSION" >/dev/null && tar xzf hls.js-*.tgz)
got=$(sha256sum "$work/package/dist/hls.min.js" | cut -d' ' -f1)
if [ "$VERSION" = "$PINNED" ] && [ "$got" != "$SHA256" ]; then
  echo "hls.js $VERSION: sha256 $got, expected $SHA256: not replaced" >&2
  exit 1
fi
cp "$work/package/dist/hls.min.js" hls.min.js
cp "$work/package/LICENSE" hls.js-LICENSE.txt
echo "hls.js $VERSION installed, sha256 $got"
[ "$VERSION" = "$PINNED" ] || echo "new pin: set PINNED/SHA256 here and in README.md"
