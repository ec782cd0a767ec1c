#!/usr/bin/env bash
# systemd-analyze verify of deploy/systemd/ in a scratch root that holds the built binaries
# where the units expect them (/usr/local/bin): unknown keys, bad values and missing programs
# all fail. Skipped (exit 77) without systemd-analyze. Usage: systemd_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
ROOT=${1:?usage: systemd_test.sh SOURCE_DIR BIN_DIR}
BIN=${2:?usage: systemd_test.sh SOURCE_DIR BIN_DIR}
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }
R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R/usr/local/bin" "$R/etc/systemd/system" "$R/usr/lib/systemd" "$R/etc/gabe"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/"
ln -s usr/lib "$R/lib"
cp "$ROOT"/deploy/systemd/* "$R/etc/systemd/system/"
touch "$R"/etc/gabe/{gabe,migrate,ingest,scoring,segments,grants}.env
cp "$BIN/gabectl" "$R/usr/local/bin/"
units=(gabe-migrate.service gabe-purge.service gabe-purge.timer)
for svc in ingest scoring segments grants; do
  [ -x "$BIN/gabe-$svc" ] || continue
  cp "$BIN/gabe-$svc" "$R/usr/local/bin/"
  units+=("gabe@$svc.service")
done
if ! systemd-analyze verify --root="$R" "${units[@]}" 2>"$R/verify.log" || [ -s "$R/verify.log" ]; then
  cat "$R/verify.log"
  echo "FAIL: systemd-analyze verify found the above in deploy/systemd/"
  exit 1
fi
echo "systemd-analyze verify: ${units[*]} clean"
