#!/usr/bin/env bash
# Fetch Leaflet from the npm registry (npm pack: the registry's own tarball and integrity
# check) and put its dist/leaflet.js, leaflet.css, images/ and LICENSE under
# rtcc/static/rtcc/vendor/leaflet/ (the source maps and ES-module builds are left out).
#   rtcc/refresh_leaflet.sh          re-fetch the pinned version, fail unless its sha256s match
#   rtcc/refresh_leaflet.sh 1.9.5    move the pin: prints the new sha256s to put here and in README.md
set -euo pipefail
cd "$(dirname "$0")/static/rtcc/vendor/leaflet"
PINNED=1.9.4
SHA256_JS=db49d009c841f5ca34a888c96511ae936fd9f5533e90d8b2c4d57596f4e5641a
SHA256_CSS=a7837102824184820dfa198d1ebcd109ff6d0ff9a2672a074b9a1b4d147d04c6
VERSION=${1:-$PINNED}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "leaflet@$VERSION" >/dev/null && tar xzf leaflet-*.tgz)
js=$(sha256sum "$work/package/dist/leaflet.js" | cut -d' ' -f1)
css=$(sha256sum "$work/package/dist/leaflet.css" | cut -d' ' -f1)
if [ "$VERSION" = "$PINNED" ] && { [ "$js" != "$SHA256_JS" ] || [ "$css" != "$SHA256_CSS" ]; }; then
  echo "leaflet $VERSION: sha256 $js / $css, expected $SHA256_JS / $SHA256_CSS: not replaced" >&2
  exit 1
fi
cp "$work/package/dist/leaflet.js" leaflet.js
cp "$work/package/dist/leaflet.css" leaflet.css
rm -rf images && cp -r "$work/package/dist/images" images
cp "$work/package/LICENSE" LICENSE.txt
echo "leaflet $VERSION installed, sha256 leaflet.js $js, leaflet.css $css"
[ "$VERSION" = "$PINNED" ] || echo "new pin: set PINNED/SHA256_* here and in README.md"
