#!/usr/bin/env bash
# `./run up`: the whole suite on one machine with demo data. Starts a private PostgreSQL under
# .gabe/ (unless GABE_DATABASE_URL is set), migrates, starts every service that is built, and
# Prometheus if installed, loads demo data, prints URLs and an admin token, and stops
# everything cleanly on Ctrl-C.
set -euo pipefail
BIN=${1:?usage: deploy/up.sh BIN_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=$ROOT/.gabe
DEMO_DONORS=${GABE_DEMO_DONORS:-2000}
mkdir -p "$STATE/logs"
chmod 711 "$STATE"  # the postgres user must reach .gabe/pg; secrets inside are 0600

log() { printf '\033[1m[gabe]\033[0m %s\n' "$*" >&2; }
pids=()
prom_pid=""
own_pg=0

cleanup() {
  trap - INT TERM EXIT
  log "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$prom_pid" ] && { kill -TERM "$prom_pid" 2>/dev/null || true; wait "$prom_pid" 2>/dev/null || true; }
  if [ "$own_pg" = 1 ]; then "$ROOT/run" pg-stop "$STATE/pg"; fi
  log "stopped"
}
trap cleanup INT TERM EXIT

if [ -n "${GABE_DATABASE_URL:-}" ]; then
  ADMIN_URL=$GABE_DATABASE_URL
  log "using the database at GABE_DATABASE_URL"
  service_url() { echo "$GABE_DATABASE_URL"; }
else
  [ -f "$STATE/pg/data/PG_VERSION" ] || log "creating a private PostgreSQL in .gabe/pg"
  # The same private cluster set-up as the tests' and the benchmark's (./run pg-start).
  PG_URL=$("$ROOT/run" pg-start "$STATE/pg")
  own_pg=1
  PG_PORT=${PG_URL##*:}
  PG_PORT=${PG_PORT%%/*}
  psql -q "postgresql://gabe@127.0.0.1:$PG_PORT/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'gabe'" |
    grep -q 1 || psql -q "postgresql://gabe@127.0.0.1:$PG_PORT/postgres" -c "CREATE DATABASE gabe" >/dev/null
  ADMIN_URL="postgresql://gabe@127.0.0.1:$PG_PORT/gabe"
  # Each service connects as its own least-privilege role (trust auth on loopback here).
  service_url() { echo "postgresql://gabe_$1@127.0.0.1:$PG_PORT/gabe"; }
fi

export GABE_DATABASE_URL=$ADMIN_URL
log "migrating"
"$BIN/gabectl" migrate >/dev/null
if [ "$own_pg" = 1 ]; then
  for role in ingest scoring segments grants; do psql -q "$ADMIN_URL" -c "ALTER ROLE gabe_$role LOGIN" >/dev/null; done
fi

# The demo source's secret is kept in .gabe/demo-secret; a lost file gets a fresh secret.
if [ "$(psql -q "$ADMIN_URL" -tAc "SELECT count(*) FROM ingest.sources WHERE name = 'demo'")" = 0 ]; then
  "$BIN/gabectl" source add demo --adapter generic | tail -1 >"$STATE/demo-secret"
elif [ ! -s "$STATE/demo-secret" ]; then
  "$BIN/gabectl" source rotate demo | tail -1 >"$STATE/demo-secret"
fi
chmod 600 "$STATE/demo-secret"
TOKEN=$("$BIN/gabectl" token create --role admin --name "up-$(date +%Y%m%d-%H%M%S)" | tail -1)

declare -A ports=([ingest]=8081 [scoring]=8082 [segments]=8083 [grants]=8084)
started=()
for svc in ingest scoring segments grants; do
  [ -x "$BIN/gabe-$svc" ] || continue
  GABE_DATABASE_URL=$(service_url "$svc") GABE_LISTEN="127.0.0.1:${ports[$svc]}" \
    "$BIN/gabe-$svc" 2>>"$STATE/logs/$svc.log" &
  pids+=($!)
  started+=("$svc")
done
for svc in "${started[@]}"; do
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:${ports[$svc]}/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:${ports[$svc]}/readyz" >/dev/null || { log "gabe-$svc did not become ready; see .gabe/logs/$svc.log"; exit 1; }
done

# Demo data, one step per started service. Each step must be safe to run again on a database
# that already has its data. The coordinator adds the steps of scoring (train and activate a
# first model, run scoring), segments (refresh the built-in segments) and grants (demo
# funders, grants and deadlines) here as those services land.
demo_step() {
  case $1 in
    ingest)
      if [ "$(psql -q "$ADMIN_URL" -tAc "SELECT count(*) FROM donor.donors")" = "0" ]; then
        log "loading demo data ($DEMO_DONORS donors) through POST /v1/import"
        "$BIN/gabectl" demo-data --donors "$DEMO_DONORS" --seed 1 --source demo 2>/dev/null |
          curl -fsS -X POST --data-binary @- -H 'Content-Type: application/x-ndjson' \
            -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8081/v1/import >"$STATE/logs/demo-import.json"
      fi
      ;;
    segments)
      log "refreshing the built-in segments"
      for id in $(psql -q "$ADMIN_URL" -tAc "SELECT id FROM segments.segments WHERE builtin ORDER BY id"); do
        curl -fsS -X POST -H "Authorization: Bearer $TOKEN" \
          "http://127.0.0.1:8083/v1/segments/$id/refresh" >/dev/null
      done
      ;;
    *) ;;  # scoring, grants: see above
  esac
}
for svc in "${started[@]}"; do demo_step "$svc"; done

# Prometheus with Gabe's alert rules (deploy/prometheus/), scraping the services started here;
# on 9090, or a free port when 9090 is taken. Its data stays in .gabe/prometheus.
PROM_URL=""
if command -v prometheus >/dev/null 2>&1; then
  prom_port=9090
  if ! python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 9090))' 2>/dev/null; then
    prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  fi
  {
    echo "# Written by deploy/up.sh from deploy/prometheus/prometheus.yml: the services started by ./run up."
    echo "global: {scrape_interval: 15s, evaluation_interval: 15s}"
    echo "rule_files: ['$ROOT/deploy/prometheus/rules/*.yml']"
    echo "scrape_configs:"
    for svc in "${started[@]}"; do
      echo "  - job_name: gabe-$svc"
      echo "    static_configs: [{targets: ['127.0.0.1:${ports[$svc]}']}]"
    done
  } >"$STATE/prometheus.yml"
  if promtool check config "$STATE/prometheus.yml" >"$STATE/logs/promtool.log" 2>&1; then
    prometheus --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/prometheus" \
      --web.listen-address="127.0.0.1:$prom_port" >>"$STATE/logs/prometheus.log" 2>&1 &
    prom_pid=$!
    PROM_URL="http://127.0.0.1:$prom_port"
    for _ in $(seq 50); do curl -fs "$PROM_URL/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
  else
    log "Prometheus not started: its config does not check, see .gabe/logs/promtool.log"
  fi
fi

cat >"$STATE/env" <<ENV
export GABE_TOKEN=$TOKEN
export GABE_WEBHOOK_SECRET=$(cat "$STATE/demo-secret")
export GABE_INGEST_URL=http://127.0.0.1:8081
export GABE_ADMIN_DATABASE_URL=$ADMIN_URL
export GABE_PROMETHEUS_URL=$PROM_URL
ENV
chmod 600 "$STATE/env"

echo
echo "Gabe is running."
for svc in "${started[@]}"; do printf '  gabe-%-9s http://127.0.0.1:%s   (logs: .gabe/logs/%s.log)\n' "$svc" "${ports[$svc]}" "$svc"; done
if [ -n "$PROM_URL" ]; then
  echo "  prometheus      $PROM_URL   (alerts: $PROM_URL/alerts; logs: .gabe/logs/prometheus.log)"
else
  echo "  prometheus      not installed (apt-get install prometheus), or see .gabe/logs/promtool.log"
fi
echo "  database        $ADMIN_URL"
echo "  demo data       $(cat "$STATE/logs/demo-import.json" 2>/dev/null | head -c 200)"
echo
echo "Admin token (shown once; also in .gabe/env as GABE_TOKEN):"
echo "  $TOKEN"
echo "Webhook source 'demo' secret: in .gabe/env as GABE_WEBHOOK_SECRET"
echo
echo "Try:  source .gabe/env && curl -H \"Authorization: Bearer \$GABE_TOKEN\" \$GABE_INGEST_URL/v1/stats"
echo "Press Ctrl-C to stop."
wait "${pids[0]}"
