#!/bin/sh
# Builds the committed browser files from the pinned packages in node_modules/:
#   static/vendor/hpke.min.js        classic script (IIFE) defining one global, HPKE
#   static/vendor/hpke.min.js.json   versions bundled, SHA-256, SRI (sha384-...), sizes
#   static/fonts/*.woff2             Noto Sans Arabic (arabic) and Noto Sans (latin, and
#                                    latin-ext cut down to Latin Extended-A by subset_font.py)
#   static/fonts/*-OFL.txt           each font package's licence
#   static/fonts/fonts.json          packages, versions, SHA-256 and size of each font file
#   static/css/fonts.css             the @font-face rules, one per file
# Usage, from the repository root: cd vendor/hpke && npm ci --ignore-scripts && ./build.sh
# FONT_PYTHON names a Python with the fonttools and brotli that pyproject.toml pins (the test
# extra installs them): FONT_PYTHON=/path/to/venv/bin/python ./build.sh. Default: python3.
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

# The subsetter refuses any other version than the pinned ones: checked before anything runs.
FONT_PYTHON=${FONT_PYTHON:-python3}
export FONT_PYTHON
"$FONT_PYTHON" subset_font.py --check-versions

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Every package the lockfile pins, against the registry's advisories, before any of it is
# bundled into what a reporter's browser runs: a known vulnerability stops the build. Where the
# registry's audit endpoint does not answer (a mirror that serves packages only), the build
# stops too, unless whoever builds accepts it explicitly with VENDOR_AUDIT_UNAVAILABLE=accept:
# the manifest then says, for every reviewer to read, that no audit ran, and the packages are
# still only those the lockfile pins by their SHA-512.
if npm audit --package-lock-only --audit-level=low >"$TMP/audit.txt" 2>&1; then
    VENDOR_AUDIT="npm audit --package-lock-only passed"
elif grep -q "audit endpoint returned an error" "$TMP/audit.txt" \
        && [ "${VENDOR_AUDIT_UNAVAILABLE:-}" = "accept" ]; then
    VENDOR_AUDIT="not audited: the registry's audit endpoint did not answer at build time"
    echo "warning: $VENDOR_AUDIT (accepted with VENDOR_AUDIT_UNAVAILABLE=accept)" >&2
else
    cat "$TMP/audit.txt" >&2
    echo "npm audit did not pass: nothing was built" >&2
    exit 1
fi
export VENDOR_AUDIT

mkdir -p "$ROOT/static/vendor" "$ROOT/static/fonts" "$ROOT/static/css"
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

# Checks the bundle against tests/testdata/vectors.json, then writes the .json manifests and
# fonts.css into $TMP, and the font files it picks from node_modules/ into $TMP/fonts/.
node write-manifests.mjs "$TMP" "$ROOT/tests/testdata/vectors.json"

# Only now, with every check passed, replace the committed files.
cp "$TMP/hpke.min.js" "$TMP/hpke.min.js.json" "$ROOT/static/vendor/"
# static/fonts/ holds what this build wrote and nothing else: a font dropped from the build
# is no longer served.
rm -f "$ROOT"/static/fonts/*
cp "$TMP"/fonts/* "$ROOT/static/fonts/"
cp "$TMP/fonts.css" "$ROOT/static/css/"

cd "$ROOT"
sha256sum static/vendor/hpke.min.js static/fonts/*.woff2
