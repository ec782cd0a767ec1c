#!/usr/bin/env bash
# A real scrape of every service binary in BIN_DIR (gabe-ingest, and gabe-scoring,
# gabe-segments, gabe-grants once they are built), each as its own database role: every
# /metrics passes `promtool check metrics`, ingest's carries the platform's metrics
# (requests, pool) that the alert rules and dashboards use, and the pool metrics move under a
# held lock; then, when Prometheus is installed, a real Prometheus with Gabe's rules scrapes
# them, evaluates the rules and runs every dashboard query. Usage: scrape_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
ROOT=${1:?usage: scrape_test.sh SOURCE_DIR BIN_DIR}
BIN=${2:?usage: scrape_test.sh SOURCE_DIR BIN_DIR}
WORK=$(mktemp -d /tmp/gabe-ops-scrape.XXXXXX)
chmod 755 "$WORK"
pids=()

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$ROOT/run" pg-stop "$WORK/pg" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_for CMD...: up to 30 s
wait_for() {
  for _ in $(seq 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

command -v promtool >/dev/null || fail "promtool is missing (Debian package prometheus)"

PG_URL=$("$ROOT/run" pg-start "$WORK/pg")
PG_PORT=${PG_URL##*:}
PG_PORT=${PG_PORT%%/*}
psql -q "$PG_URL" -c "CREATE DATABASE gabe" >/dev/null
ADMIN_URL="postgresql://gabe@127.0.0.1:$PG_PORT/gabe"
GABE_DATABASE_URL=$ADMIN_URL "$BIN/gabectl" migrate >/dev/null
psql -q "$ADMIN_URL" -c "ALTER ROLE gabe_ingest LOGIN" >/dev/null

PORT=$(free_port)
GABE_DATABASE_URL="postgresql://gabe_ingest@127.0.0.1:$PG_PORT/gabe" GABE_LISTEN="127.0.0.1:$PORT" \
  GABE_DB_POOL_SIZE=7 "$BIN/gabe-ingest" 2>"$WORK/ingest.log" &
pids+=($!)
wait_for curl -fs "http://127.0.0.1:$PORT/readyz" || { cat "$WORK/ingest.log" >&2; fail "gabe-ingest did not become ready"; }
# Some traffic, so that the request metrics have series: a 404 and a 401.
curl -s -o /dev/null "http://127.0.0.1:$PORT/nothing-here" || true
curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/stats" || true
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data '{}' \
  "http://127.0.0.1:$PORT/v1/webhooks/no-such-source" || true

curl -fsS "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt"
# promtool check metrics prints lint problems and exits non-zero on any.
if ! promtool check metrics <"$WORK/metrics.txt" >"$WORK/lint.txt" 2>&1; then
  cat "$WORK/lint.txt" >&2
  fail "promtool check metrics found problems in gabe-ingest's /metrics"
fi
echo "promtool check metrics: gabe-ingest's /metrics is clean ($(grep -c '^gabe_' "$WORK/metrics.txt") samples)"


expect_sample() {  # expect_sample REGEX: a sample line of the scrape matches
  grep -Eq "$1" "$WORK/metrics.txt" || { grep '^gabe_' "$WORK/metrics.txt" >&2; fail "no sample matching $1"; }
}
expect_sample '^gabe_db_pool_max_connections 7$'
expect_sample '^gabe_db_pool_connections\{state="in_use"\} [0-9]'
expect_sample '^gabe_db_pool_connections\{state="idle"\} [0-9]'
expect_sample '^gabe_db_pool_waiting_requests 0$'
expect_sample '^gabe_db_pool_acquire_timeouts_total 0$'
expect_sample '^gabe_http_requests_total\{.*route="unmatched".*status="404".*\} 1$'
expect_sample '^gabe_http_requests_total\{.*route="/v1/stats".*status="401".*\} 1$'
expect_sample '^gabe_http_request_duration_seconds_bucket\{.*le="\+Inf".*\}'
expect_sample '^gabe_ingest_events_total\{channel="webhook",outcome="unauthorized"\} 1$'

# The other services, as far as they are built: each passes promtool check metrics.
declare -A service_port=([ingest]=$PORT)
for svc in scoring segments grants; do
  [ -x "$BIN/gabe-$svc" ] || { echo "gabe-$svc is not built: not scraped"; continue; }
  psql -q "$ADMIN_URL" -c "ALTER ROLE gabe_$svc LOGIN" >/dev/null
  service_port[$svc]=$(free_port)
  GABE_DATABASE_URL="postgresql://gabe_$svc@127.0.0.1:$PG_PORT/gabe" GABE_LISTEN="127.0.0.1:${service_port[$svc]}" \
    "$BIN/gabe-$svc" 2>"$WORK/$svc.log" &
  pids+=($!)
  wait_for curl -fs "http://127.0.0.1:${service_port[$svc]}/readyz" || { tail -5 "$WORK/$svc.log" >&2; fail "gabe-$svc did not become ready"; }
  curl -fsS "http://127.0.0.1:${service_port[$svc]}/metrics" >"$WORK/$svc-metrics.txt"
  promtool check metrics <"$WORK/$svc-metrics.txt" >"$WORK/$svc-lint.txt" 2>&1 ||
    { cat "$WORK/$svc-lint.txt" >&2; fail "promtool check metrics found problems in gabe-$svc's /metrics"; }
  grep -q '^gabe_db_pool_max_connections ' "$WORK/$svc-metrics.txt" || fail "gabe-$svc has no pool metrics"
  echo "promtool check metrics: gabe-$svc's /metrics is clean"
done

# The pool metrics move: a second gabe-ingest with one connection; a held lock keeps that
# connection busy in one /readyz while two more wait for it past the 2 s limit (503).
PORT1=$(free_port)
GABE_DATABASE_URL="postgresql://gabe_ingest@127.0.0.1:$PG_PORT/gabe" GABE_LISTEN="127.0.0.1:$PORT1" \
  GABE_DB_POOL_SIZE=1 "$BIN/gabe-ingest" 2>"$WORK/ingest1.log" &
pids+=($!)
wait_for curl -fs "http://127.0.0.1:$PORT1/readyz" || fail "the second gabe-ingest did not become ready"
psql -q "$ADMIN_URL" -c "BEGIN; LOCK TABLE gabe_meta.schema_migrations IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;" >/dev/null &
locker=$!
sleep 0.5
for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$PORT1/readyz" & done
sleep 1
curl -fsS "http://127.0.0.1:$PORT1/metrics" >"$WORK/busy.txt"
grep -Eq '^gabe_db_pool_waiting_requests [12]$' "$WORK/busy.txt" || { grep '^gabe_db_pool' "$WORK/busy.txt" >&2; fail "no request waiting for the pool's one connection"; }
grep -Eq '^gabe_db_pool_connections\{state="in_use"\} 1$' "$WORK/busy.txt" || fail "the pool's connection is not in use"
wait "$locker"
sleep 2
curl -fsS "http://127.0.0.1:$PORT1/metrics" >"$WORK/after.txt"
grep -Eq '^gabe_db_pool_acquire_timeouts_total [12]$' "$WORK/after.txt" || { grep '^gabe_db_pool' "$WORK/after.txt" >&2; fail "the waits that timed out were not counted"; }
echo "pool metrics: waiting requests and acquire timeouts counted under a held lock"

if ! command -v prometheus >/dev/null; then
  echo "SKIP: prometheus is not installed; the real scrape by Prometheus was not tested"
  exit 0
fi
PROM_PORT=$(free_port)
mkdir -p "$WORK/prom"
cp -r "$ROOT/deploy/prometheus/rules" "$WORK/prom/rules"
cat >"$WORK/prom/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [rules/*.yml]
scrape_configs:
$(for svc in "${!service_port[@]}"; do
    echo "  - job_name: gabe-$svc"
    echo "    static_configs: [{targets: [\"127.0.0.1:${service_port[$svc]}\"]}]"
  done)
YAML
promtool check config "$WORK/prom/prometheus.yml" >/dev/null
prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" 2>"$WORK/prometheus.log" &
pids+=($!)
query() {  # query PROMQL: prints the first sample's value, fails when there is none
  curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1]) if r else sys.exit(1)'
}
for svc in "${!service_port[@]}"; do
  wait_for query "up{job=\"gabe-$svc\"} == 1" || { tail -20 "$WORK/prometheus.log" >&2; fail "Prometheus did not scrape gabe-$svc"; }
done
[ "$(query 'gabe_db_pool_max_connections{job="gabe-ingest"}')" = 7 ] || fail "Prometheus has no gabe_db_pool_max_connections 7"
# The rules are loaded: count the alerting rules Prometheus reports.
curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/rules?type=alert" >"$WORK/rules.json"
loaded=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(g["rules"]) for g in d["data"]["groups"]))' "$WORK/rules.json")
defined=$(grep -c '^ *- alert:' "$ROOT/deploy/prometheus/rules/"*.yml | awk -F: '{s+=$NF} END {print s}')
[ "$loaded" = "$defined" ] || fail "Prometheus loaded $loaded alerting rules, the files define $defined"
# A recording rule evaluates against the real series (the 404 and 401 above are no 5xx).
wait_for query 'gabe:http_errors:ratio_rate5m{job="gabe-ingest"}' || fail "gabe:http_errors:ratio_rate5m has no value"
echo "prometheus: scraped ${!service_port[*]}, $loaded alerting rules loaded, recording rules evaluate"
# Every dashboard query parses and runs (Grafana's variables replaced by what "All" means).
python3 - "$ROOT" "$PROM_PORT" <<'PY'
import glob, json, sys, urllib.parse, urllib.request
root, port = sys.argv[1], sys.argv[2]
bad, n = [], 0
for path in sorted(glob.glob(root + "/deploy/grafana/dashboards/*.json")):
    panels = list(json.load(open(path))["panels"])
    while panels:
        p = panels.pop()
        panels.extend(p.get("panels", []))
        for t in p.get("targets", []):
            expr = t["expr"].replace("$__rate_interval", "1m").replace("$job", ".*").replace("$target", ".*")
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            n += 1
            try:
                status = json.load(urllib.request.urlopen(url))["status"]
            except Exception as e:  # a 400 carries the parser's error
                status = getattr(e, "read", lambda: str(e).encode())().decode()
            if status != "success":
                bad.append(f"{path.split('/')[-1]}: '{p['title']}': {status}")
for b in bad:
    print("FAIL: dashboard query does not run: " + b)
print(f"{n} dashboard queries run on Prometheus")
sys.exit(1 if bad else 0)
PY
