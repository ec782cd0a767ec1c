#!/usr/bin/env bash
# Builds every Kustomize overlay under k8s/overlays/ with `kubectl kustomize`, checks the
# objects against Gabe's rules (check_ops.py k8s: probes, non-root, read-only root, dropped
# capabilities, seccomp, resources, one database role per service, the jobs, policies), and
# validates them against the Kubernetes API schema offline (validate_k8s.mjs with
# kubernetes-models, installed on first use into a cache folder outside the repository).
# kubectl is not a Debian bookworm package: without it the test is skipped (exit 77); so is the
# schema step when npm is missing or cannot install. Usage: kustomize_test.sh SOURCE_DIR
set -euo pipefail
ROOT=${1:?usage: kustomize_test.sh SOURCE_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if ! command -v kubectl >/dev/null; then
  echo "SKIP: kubectl is not installed (not a Debian bookworm package); k8s/ overlays not built"
  exit 77
fi
rendered=()
for overlay in "$ROOT"/k8s/overlays/*/; do
  name=$(basename "$overlay")
  kubectl kustomize "$overlay" >"$WORK/$name.yaml" || { echo "FAIL: kubectl kustomize k8s/overlays/$name"; exit 1; }
  echo "built k8s/overlays/$name: $(grep -c '^kind:' "$WORK/$name.yaml") objects"
  python3 "$HERE/check_ops.py" "$ROOT" k8s "$WORK/$name.yaml"
  rendered+=("$WORK/$name.yaml")
done
[ ${#rendered[@]} -ge 2 ] || { echo "FAIL: expected the overlays dev and production"; exit 1; }

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "SKIP: npm/node missing; overlays built and checked, but not validated against the API schema"
  exit 77
fi
CACHE=${GABE_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gabe-ops}/k8s-schema
PACKAGES=(kubernetes-models@5.1.0 @kubernetes-models/cloudnative-pg@2.0.0 @kubernetes-models/prometheus-operator@6.0.0 @kubernetes/client-node@1.4.0 js-yaml@4.1.0)
MARKER=$CACHE/.installed-$(echo "${PACKAGES[*]}" | md5sum | cut -c1-12)
if [ ! -f "$MARKER" ]; then
  mkdir -p "$CACHE"
  if ! npm install --prefix "$CACHE" --no-audit --no-fund --silent "${PACKAGES[@]}" >"$WORK/npm.log" 2>&1; then
    tail -5 "$WORK/npm.log"
    echo "SKIP: could not install ${PACKAGES[*]} (offline?); overlays built and checked, not schema-validated"
    exit 77
  fi
  touch "$MARKER"
fi
cp "$HERE/validate_k8s.mjs" "$CACHE/validate_k8s.mjs"
node "$CACHE/validate_k8s.mjs" "${rendered[@]}"
