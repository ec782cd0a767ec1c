#!/usr/bin/env bash
# `redocly lint` of every docs/openapi/*.yaml with the repository's redocly.yaml (recommended
# rules, all as errors) and .redocly.lint-ignore.yaml. @redocly/cli is installed on first use
# into a cache folder outside the repository; without npm, or offline, the test is skipped
# (exit 77). Usage: openapi_lint.sh SOURCE_DIR
set -euo pipefail
ROOT=${1:?usage: openapi_lint.sh SOURCE_DIR}
# 1.34 runs on Debian bookworm's Node.js 18 (2.x needs Node.js 20.19 or later).
PACKAGE=@redocly/cli@1.34.20
CACHE=${GABE_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gabe-ops}/redocly-$(echo "$PACKAGE" | md5sum | cut -c1-12)
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "SKIP: npm/node missing; docs/openapi/*.yaml not linted"
  exit 77
fi
if [ ! -x "$CACHE/node_modules/.bin/redocly" ]; then
  mkdir -p "$CACHE"
  if ! npm install --prefix "$CACHE" --no-audit --no-fund --silent "$PACKAGE" >"$CACHE/npm.log" 2>&1; then
    tail -5 "$CACHE/npm.log"
    echo "SKIP: could not install $PACKAGE (offline?); docs/openapi/*.yaml not linted"
    exit 77
  fi
fi
cd "$ROOT"
files=(docs/openapi/*.yaml)
echo "linting ${files[*]}"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  "$CACHE/node_modules/.bin/redocly" lint --config redocly.yaml --format=stylish "${files[@]}"
