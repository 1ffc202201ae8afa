#!/bin/sh
# Builds the committed browser files from the pinned packages in node_modules/:
#   static/vendor/hpke.min.js        classic script (IIFE) defining one global, HPKE
#   static/vendor/hpke.min.js.json   versions bundled, SHA-256, SRI (sha384-...), sizes
#   static/fonts/noto-sans-arabic-arabic-400.woff2, static/fonts/OFL.txt
#   static/fonts/fonts.json          version, SHA-256 and size of each font file
#   static/css/fonts.css             the @font-face rules
# Usage, from the repository root: cd vendor/hpke && npm ci --ignore-scripts && ./build.sh
# The output is deterministic: running this twice gives byte-identical files.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$HERE"
umask 022
export LC_ALL=C TZ=UTC

if [ ! -x node_modules/.bin/esbuild ] || [ ! -d node_modules/@hpke/core ]; then
    echo "node_modules/ is missing: run 'npm ci --ignore-scripts' first" >&2
    exit 1
fi

# Every package the lockfile pins, against the registry's advisories, before any of it is
# bundled into what a reporter's browser runs: a known vulnerability stops the build. Where the
# registry's audit endpoint cannot be reached, the build stops too; rebuild where it can be.
if ! npm audit --package-lock-only --audit-level=low; then
    echo "npm audit did not pass: nothing was built" >&2
    exit 1
fi

mkdir -p "$ROOT/static/vendor" "$ROOT/static/fonts" "$ROOT/static/css"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# --alias:crypto stubs out Node's "crypto": the packages import() it only as a fallback for
# Node <= 18, so the bundle carries no dynamic import() and no reference to a Node built-in.
# es2020: the bundled code uses BigInt literals (X25519), so older targets cannot be built.
node_modules/.bin/esbuild entry.mjs \
    --bundle --format=iife --global-name=HPKE --platform=browser \
    --minify --legal-comments=eof --target=es2020 \
    --alias:crypto=./no-node-crypto.mjs \
    --charset=utf8 --log-level=warning \
    --metafile="$TMP/meta.json" \
    --outfile="$TMP/hpke.min.js"

FONTS=node_modules/@fontsource/noto-sans-arabic
# The regular face only: browsers draw bold from it, and a reporter on a slow or metered
# connection gains more from 49 KB less than from heavier strokes.
for weight in 400; do
    cp "$FONTS/files/noto-sans-arabic-arabic-$weight-normal.woff2" \
        "$TMP/noto-sans-arabic-arabic-$weight.woff2"
done
cp "$FONTS/LICENSE" "$TMP/OFL.txt"

# Checks the bundle against tests/testdata/vectors.json, then writes the .json manifests
# and fonts.css into $TMP.
node write-manifests.mjs "$TMP" "$ROOT/tests/testdata/vectors.json"

# Only now, with every check passed, replace the committed files.
cp "$TMP/hpke.min.js" "$TMP/hpke.min.js.json" "$ROOT/static/vendor/"
cp "$TMP/noto-sans-arabic-arabic-400.woff2" \
    "$TMP/OFL.txt" "$TMP/fonts.json" "$ROOT/static/fonts/"
cp "$TMP/fonts.css" "$ROOT/static/css/"

cd "$ROOT"
sha256sum static/vendor/hpke.min.js static/fonts/*.woff2
