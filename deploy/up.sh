#!/usr/bin/env bash
# `./run up`: the whole suite on one machine with demo data. Starts a private PostgreSQL under
# .gabe/ (unless GABE_DATABASE_URL is set), migrates, starts every service that is built, and
# Prometheus if installed, then the demo steps: donors and gifts (ingest), a trained and
# activated first model and a scoring run (scoring), the built-in segments refreshed
# (segments), funders, grants and deadlines (grants). Prints every URL and an admin token, and
# stops everything cleanly on Ctrl-C (or SIGTERM).
#
# A demo step that fails prints why and the others go on: the suite still comes up, the
# summary names the failed steps, and the exit status after Ctrl-C is 1 (0 when all went well).
# A service that does not become ready, or stops by itself, ends everything with status 1.
#
# Knobs (environment): GABE_DATABASE_URL (use that database), GABE_DEMO_DONORS (demo size,
# default 10000), GABE_STATE_DIR (default .gabe; the tests use a throwaway one),
# GABE_UP_ANY_PORT=1 (every service and Prometheus on a free port, not 8081-8084 and 9090).
set -euo pipefail
BIN=${1:?usage: deploy/up.sh BIN_DIR}
BIN=$(cd "$BIN" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${GABE_STATE_DIR:-$ROOT/.gabe}
DEMO_DONORS=${GABE_DEMO_DONORS:-10000}
mkdir -p "$STATE/logs" "$STATE/demo"
STATE=$(cd "$STATE" && pwd)
chmod 711 "$STATE"  # the postgres user must reach $STATE/pg; secrets inside are 0600

log() { printf '\033[1m[gabe]\033[0m %s\n' "$*" >&2; }
pids=()
prom_pid=""
own_pg=0
failures=()
cleaned=0

cleanup() {
  [ "$cleaned" = 1 ] && return 0
  cleaned=1
  log "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$prom_pid" ] && { kill -TERM "$prom_pid" 2>/dev/null || true; wait "$prom_pid" 2>/dev/null || true; }
  if [ "$own_pg" = 1 ]; then "$ROOT/run" pg-stop "$STATE/pg"; fi
  log "stopped"
}
# Ctrl-C or SIGTERM: a clean stop; the status says whether every demo step worked.
on_signal() {
  trap - INT TERM
  cleanup
  if [ ${#failures[@]} -gt 0 ]; then
    log "demo steps that failed: ${failures[*]}"
    exit 1
  fi
  exit 0
}
trap on_signal INT TERM
trap cleanup EXIT

if [ -n "${GABE_DATABASE_URL:-}" ]; then
  ADMIN_URL=$GABE_DATABASE_URL
  log "using the database at GABE_DATABASE_URL"
  service_url() { echo "$GABE_DATABASE_URL"; }
else
  [ -f "$STATE/pg/data/PG_VERSION" ] || log "creating a private PostgreSQL in $STATE/pg"
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

# The demo source's secret is kept in $STATE/demo-secret; a lost file gets a fresh secret.
if [ "$(psql -q "$ADMIN_URL" -tAc "SELECT count(*) FROM ingest.sources WHERE name = 'demo'")" = 0 ]; then
  "$BIN/gabectl" source add demo --adapter generic | tail -1 >"$STATE/demo-secret"
elif [ ! -s "$STATE/demo-secret" ]; then
  "$BIN/gabectl" source rotate demo | tail -1 >"$STATE/demo-secret"
fi
chmod 600 "$STATE/demo-secret"
stamp=$(date +%Y%m%d-%H%M%S)
TOKEN=$("$BIN/gabectl" token create --role admin --name "up-$stamp" | tail -1)
# Calendar apps cannot send a header: the feed takes a (viewer) token in its URL.
CALENDAR_TOKEN=$("$BIN/gabectl" token create --role viewer --name "calendar-up-$stamp" | tail -1)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_taken() { ! python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }

# The documented ports, or a free one when another program holds it.
declare -A ports=([ingest]=8081 [scoring]=8082 [segments]=8083 [grants]=8084)
started=()
for svc in ingest scoring segments grants; do
  [ -x "$BIN/gabe-$svc" ] || { log "gabe-$svc is not built: not started"; continue; }
  if [ "${GABE_UP_ANY_PORT:-0}" = 1 ]; then
    ports[$svc]=$(free_port)
  elif port_taken "${ports[$svc]}"; then
    taken=${ports[$svc]}
    ports[$svc]=$(free_port)
    log "port $taken is taken: gabe-$svc listens on ${ports[$svc]}"
  fi
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
  curl -fs "http://127.0.0.1:${ports[$svc]}/readyz" >/dev/null || { log "gabe-$svc did not become ready; see $STATE/logs/$svc.log"; exit 1; }
done
url() { echo "http://127.0.0.1:${ports[$1]}"; }

# Prometheus with Gabe's alert rules (deploy/prometheus/), scraping the services started here;
# on 9090, or a free port when 9090 is taken. Its data stays in $STATE/prometheus.
PROM_URL=""
if command -v prometheus >/dev/null 2>&1; then
  prom_port=9090
  if [ "${GABE_UP_ANY_PORT:-0}" = 1 ] || port_taken 9090; then prom_port=$(free_port); fi
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
    log "Prometheus not started: its config does not check, see $STATE/logs/promtool.log"
  fi
fi

# ---------------------------------------------------------------------------------------------
# Demo steps, one per started service, each in its own subshell: it prints one line on
# success; on failure its last line on stderr says why, and the others go on. Each step must be
# safe to run again on a database that already has its data (a second `./run up`).
# Dates are Berlin dates, as the services count them.
TODAY=$(TZ=Europe/Berlin date +%F)
day() { TZ=Europe/Berlin date -d "$TODAY $1" +%F; }  # day "+5 days"

fail() { echo "$*" >&2; exit 1; }
# api METHOD PATH_ON_SERVICE SERVICE [JSON]: the answer's body on stdout; a non-2xx answer
# fails the step with the method, path and the answer (a problem+json says what was wrong).
api() {
  local method=$1 path=$2 svc=$3 body=${4:-} out
  local args=(-sS --fail-with-body -X "$method" -H "Authorization: Bearer $TOKEN" --max-time 60)
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  out=$(curl "${args[@]}" "$(url "$svc")$path" 2>"$STATE/logs/curl.err") ||
    fail "$method $path: $(printf '%s' "${out:-$(cat "$STATE/logs/curl.err")}" | tr '\n' ' ' | head -c 300)"
  printf '%s' "$out"
}
# json EXPR [ARGS...]: evaluates a Python expression over the JSON on stdin (bound to j; the
# ARGS in sys.argv[2:]) and prints it. Empty input (a failed api call, which said why) fails
# quietly; an answer of another shape fails naming it.
json() {
  python3 -c '
import json, sys
text = sys.stdin.read()
if not text.strip():
    sys.exit(1)
try:
    j = json.loads(text)
    v = eval(sys.argv[1])
except Exception as e:
    sys.exit("unexpected answer (%s: %s): %s" % (type(e).__name__, e, text[:200]))
print("" if v is None else v)' "$@"
}

demo_ingest() {
  local donors
  donors=$(api GET /v1/stats ingest | json 'j["donors"]')
  if [ "$donors" = 0 ]; then
    # History up to today, so that scores, segments and the RFM groups look current.
    "$BIN/gabectl" demo-data --donors "$DEMO_DONORS" --seed 1 --source demo --end-date "$TODAY" \
      >"$STATE/demo.ndjson" 2>/dev/null || fail "gabectl demo-data failed"
    # A 503 (a database too busy to answer in time, on a loaded machine) is tried again, as
    # any client of the API should: events already applied come back as duplicates.
    local attempt status
    for attempt in 1 2 3; do
      status=$(curl -sS -o "$STATE/logs/demo-import.json" -w '%{http_code}' -X POST \
        --data-binary @"$STATE/demo.ndjson" -H 'Content-Type: application/x-ndjson' \
        -H "Authorization: Bearer $TOKEN" "$(url ingest)/v1/import" 2>"$STATE/logs/curl.err") || status=000
      [ "$status" = 503 ] && [ "$attempt" -lt 3 ] || break
      sleep $((attempt * 2))
    done
    [ "$status" = 200 ] ||
      fail "POST /v1/import: $status $(head -c 300 "$STATE/logs/demo-import.json" "$STATE/logs/curl.err" 2>/dev/null)"
    rm -f "$STATE/demo.ndjson"
    local rejected
    rejected=$(json 'j["rejected"]' <"$STATE/logs/demo-import.json")
    [ "$rejected" = 0 ] || fail "the demo import rejected $rejected events (see $STATE/logs/demo-import.json)"
    # Fresh planner statistics after a bulk load, as after any large import: without them
    # the first statements over the new rows (segments' rollups) may pick a plan that takes
    # minutes instead of a second, until autovacuum's analyze comes round.
    psql -q "$ADMIN_URL" -c ANALYZE >/dev/null 2>"$STATE/logs/analyze.err" ||
      fail "ANALYZE after the import: $(tail -1 "$STATE/logs/analyze.err")"
  fi
  api GET /v1/stats ingest | json '"%d donors, %d gifts (%s EUR) loaded" % (j["donors"], j["gifts"], j["gift_amount_total"])'
}

# A model for give_90d (a gift in the next 90 days): trained as of today, activated after a
# look at its card, then a scoring run. A second `./run up` keeps the active model and scores
# again as of today (unless that run exists).
demo_scoring() {
  local target=give_90d model status run deadline
  model=$(api GET "/v1/models?target=$target&status=active" scoring | json 'j["items"][0]["model_id"] if j["items"] else ""')
  if [ -z "$model" ]; then
    model=$(api POST /v1/models scoring "{\"target\": \"$target\", \"as_of\": \"$TODAY\"}" | json 'j["model_id"]')
    deadline=$((SECONDS + 600))
    while :; do
      status=$(api GET "/v1/models/$model" scoring | json 'j["status"]')
      [ "$status" != training ] && break
      [ "$SECONDS" -lt "$deadline" ] || fail "model $model still training after 10 minutes"
      sleep 0.5
    done
    [ "$status" = ready ] || fail "model $model $status: $(api GET "/v1/models/$model" scoring | json 'j.get("error")')"
    if [ "$(api GET "/v1/models/$model" scoring | json 'j["fairness_passed"]')" = False ]; then
      # The demo's audit attributes (gender, age band) are drawn at random, independent of
      # giving; with a small demo the selection rates of the groups differ by chance alone.
      # Said so in the reason (audited), and in the step's line.
      api POST "/v1/models/$model/activate" scoring '{"reason": "demo: random synthetic audit attributes, small sample", "override_fairness": true}' >/dev/null
    else
      api POST "/v1/models/$model/activate" scoring '{"reason": "demo"}' >/dev/null
    fi
  fi
  run=$(api GET "/v1/runs?target=$target&status=succeeded&limit=1" scoring |
    json 'j["items"][0]["run_id"] if j["items"] and j["items"][0]["as_of"] == sys.argv[2] and j["items"][0]["model_id"] == int(sys.argv[3]) else ""' \
      "$TODAY" "$model" 2>/dev/null || true)
  if [ -z "$run" ]; then
    run=$(api POST /v1/runs scoring "{\"target\": \"$target\"}" | json 'j["run_id"]')
    deadline=$((SECONDS + 600))
    while :; do
      status=$(api GET "/v1/runs/$run" scoring | json 'j["status"]')
      case $status in succeeded | failed) break ;; esac
      [ "$SECONDS" -lt "$deadline" ] || fail "scoring run $run still $status after 10 minutes"
      sleep 0.5
    done
    [ "$status" = succeeded ] || fail "scoring run $run failed: $(api GET "/v1/runs/$run" scoring | json 'j.get("error")')"
  fi
  echo "$model" >"$STATE/demo/model_id"
  # The card page needs a token, which a browser cannot send: a copy to open as a file.
  curl -fsS -H "Authorization: Bearer $TOKEN" "$(url scoring)/v1/models/$model/card.html" \
    >"$STATE/model-card.html" 2>/dev/null || true
  local card runj
  card=$(api GET "/v1/models/$model" scoring)
  runj=$(api GET "/v1/runs/$run" scoring)
  printf '%s\n%s\n' "$card" "$runj" | python3 -c '
import json, sys
card, run = (json.loads(line) for line in sys.stdin.read().splitlines())
m = card.get("metrics") or {}
override = (card.get("activation") or {}).get("fairness_override")
print("model %s (%s as of %s) active%s: AUC %.3f (RFM ranking %.3f); run %s scored %s donors" % (
    card["model_id"], card["target"]["name"] if isinstance(card["target"], dict) else card["target"],
    card["as_of"], " with a fairness override (the four-fifths rule failed on random demo attributes)" if override else "",
    m.get("auc", float("nan")), m.get("rfm_baseline_auc", float("nan")), run["run_id"], run["donors_scored"]))'
}

# The built-in segments (RFM quintiles, new, active, loyal, at-risk, lapsed, deep-lapsed)
# refreshed now rather than at the service's first hourly refresh; and, when a model is active,
# one segment of our own that reads its scores.
demo_segments() {
  local ids id refreshed=0 members=0 n
  ids=$(api GET "/v1/segments?limit=100" segments | json '" ".join(str(s["id"]) for s in j["items"] if s["builtin"])')
  [ -n "$ids" ] || fail "no built-in segments (migration 0007 missing?)"
  for id in $ids; do
    api POST "/v1/segments/$id/refresh" segments >/dev/null
    refreshed=$((refreshed + 1))
  done
  local summary
  summary=$(api GET "/v1/segments?limit=100" segments |
    json '", ".join("%s %d" % (s["name"], s["members"] or 0) for s in j["items"] if s["builtin"] and s["name"] in ("new", "active", "loyal", "at-risk", "lapsed", "deep-lapsed"))')
  members=$(api GET "/v1/segments?limit=100" segments | json 'sum(s["members"] or 0 for s in j["items"] if s["builtin"] and s["name"].startswith("RFM R"))')
  [ "$members" -gt 0 ] || fail "the built-in segments have no members after a refresh"
  if [ -s "$STATE/demo/model_id" ]; then
    id=$(api GET "/v1/segments?limit=100" segments | json 'next((s["id"] for s in j["items"] if s["name"] == "Likely to give (top 2 deciles, post)"), "")')
    if [ -z "$id" ]; then
      id=$(api POST /v1/segments segments '{"name": "Likely to give (top 2 deciles, post)",
        "description": "Demo: the donors most likely to give in the next 90 days who may get a letter",
        "rule": {"all": [{"field": "decile.give_90d", "op": "<=", "value": 2}, {"consent": "post"}]}}' | json 'j["id"]')
    fi
    n=$(api POST "/v1/segments/$id/refresh" segments | json 'j["members"]')
    summary="$summary; likely to give: $n"
  fi
  echo "$refreshed built-in segments refreshed ($summary)"
}

# Funders, grants in different states, and deadlines: one overdue, one due within 7 days, a
# recurring report, one done, and later ones. Only into an empty grants schema.
demo_grants() {
  local have
  have=$(api GET "/v1/funders?limit=1" grants | json 'len(j["items"])')
  if [ "$have" = 0 ]; then
    local am bosch bmfsfj esf dfl g1 g2 g3 g4 g5 g6 d
    am=$(api POST /v1/funders grants '{"name": "Aktion Mensch", "kind": "lottery", "website": "https://www.aktion-mensch.de"}' | json 'j["id"]')
    bosch=$(api POST /v1/funders grants '{"name": "Robert Bosch Stiftung", "kind": "foundation", "website": "https://www.bosch-stiftung.de"}' | json 'j["id"]')
    bmfsfj=$(api POST /v1/funders grants '{"name": "Bundesministerium für Familie, Senioren, Frauen und Jugend", "kind": "public"}' | json 'j["id"]')
    esf=$(api POST /v1/funders grants '{"name": "ESF Plus", "kind": "eu", "notes": "Europäischer Sozialfonds Plus, über die Landesbehörde"}' | json 'j["id"]')
    dfl=$(api POST /v1/funders grants '{"name": "Deutsche Fernsehlotterie", "kind": "lottery"}' | json 'j["id"]')

    # An awarded grant in its reporting phase, moved along its pipeline (history).
    g1=$(api POST /v1/grants grants "{\"funder_id\": $am, \"title\": \"Inklusives Nachbarschaftscafé\", \"programme\": \"Lebenswelten\", \"amount_requested\": \"48000.00\", \"owner\": \"KM\", \"period_start\": \"$(day '-5 months')\", \"period_end\": \"$(day '+19 months')\", \"status\": \"drafting\"}" | json 'j["id"]')
    api PATCH "/v1/grants/$g1" grants '{"status": "submitted"}' >/dev/null
    api PATCH "/v1/grants/$g1" grants '{"status": "awarded", "amount_awarded": "45000.00"}' >/dev/null
    api PATCH "/v1/grants/$g1" grants '{"status": "reporting", "amount_received": "22500.00"}' >/dev/null
    g2=$(api POST /v1/grants grants "{\"funder_id\": $bosch, \"title\": \"Ehrenamt digital\", \"programme\": \"Zusammenhalt\", \"amount_requested\": \"25000.00\", \"owner\": \"JS\", \"status\": \"drafting\"}" | json 'j["id"]')
    g3=$(api POST /v1/grants grants "{\"funder_id\": $bmfsfj, \"title\": \"Mehrgenerationenhaus Nord\", \"programme\": \"Bundesprogramm Mehrgenerationenhaus\", \"amount_requested\": \"120000.00\", \"owner\": \"KM\", \"status\": \"submitted\"}" | json 'j["id"]')
    g4=$(api POST /v1/grants grants "{\"funder_id\": $esf, \"title\": \"Qualifizierung in der Pflegehilfe\", \"programme\": \"ESF Plus Förderperiode 2021–2027\", \"amount_requested\": \"310000.00\", \"owner\": \"AB\"}" | json 'j["id"]')
    g5=$(api POST /v1/grants grants "{\"funder_id\": $dfl, \"title\": \"Mobile Seniorenberatung\", \"amount_requested\": \"60000.00\", \"owner\": \"JS\", \"status\": \"loi\"}" | json 'j["id"]')
    g6=$(api POST /v1/grants grants "{\"funder_id\": $am, \"title\": \"Ferienfreizeit 2025\", \"amount_requested\": \"9000.00\", \"owner\": \"AB\", \"status\": \"submitted\"}" | json 'j["id"]')
    api PATCH "/v1/grants/$g6" grants '{"status": "rejected"}' >/dev/null

    # Deadlines: a recurring interim report every 6 months, the first one overdue; a final
    # report later; an application due within 7 days; an LoI done; later ones.
    api POST "/v1/grants/$g1/deadlines" grants "{\"kind\": \"interim_report\", \"due_on\": \"$(day '-3 days')\", \"owner\": \"KM\", \"recurrence\": {\"every_months\": 6, \"until\": \"$(day '+19 months')\"}}" >/dev/null
    api POST "/v1/grants/$g1/deadlines" grants "{\"kind\": \"final_report\", \"due_on\": \"$(day '+25 months')\", \"internal_due_on\": \"$(day '+24 months')\", \"owner\": \"KM\"}" >/dev/null
    api POST "/v1/grants/$g2/deadlines" grants "{\"kind\": \"application\", \"due_on\": \"$(day '+5 days')\", \"internal_due_on\": \"$(day '+2 days')\", \"owner\": \"JS\"}" >/dev/null
    api POST "/v1/grants/$g3/deadlines" grants "{\"kind\": \"other\", \"due_on\": \"$(day '+21 days')\", \"owner\": \"KM\"}" >/dev/null
    api POST "/v1/grants/$g4/deadlines" grants "{\"kind\": \"loi\", \"due_on\": \"$(day '+45 days')\", \"internal_due_on\": \"$(day '+30 days')\", \"owner\": \"AB\"}" >/dev/null
    d=$(api POST "/v1/grants/$g5/deadlines" grants "{\"kind\": \"loi\", \"due_on\": \"$(day '+10 days')\", \"owner\": \"JS\"}" | json 'j["id"]')
    api POST "/v1/deadlines/$d/complete" grants >/dev/null
    api POST "/v1/grants/$g5/deadlines" grants "{\"kind\": \"application\", \"due_on\": \"$(day '+70 days')\", \"owner\": \"JS\"}" >/dev/null
  fi
  local week funders grants
  week=$(api GET "/v1/deadlines?within_days=7&state=open&limit=100" grants | json 'len(j["items"])')
  funders=$(api GET "/v1/funders?limit=100" grants | json 'len(j["items"])')
  grants=$(api GET "/v1/grants?limit=100" grants | json '", ".join("%d %s" % (n, s) for s, n in sorted(__import__("collections").Counter(g["status"] for g in j["items"]).items()))')
  api GET "/v1/deadlines?limit=1000" grants | json '"%d funders, grants: %s; deadline occurrences: %d overdue, %d open (%d within 7 days), %d done" % (int(sys.argv[2]), sys.argv[3], sum(i["state"] == "overdue" for i in j["items"]), sum(i["state"] == "open" for i in j["items"]), int(sys.argv[4]), sum(i["state"] == "done" for i in j["items"]))' "$funders" "$grants" "$week"
}

log "demo steps (a step that fails says why; the others go on)"
for svc in "${started[@]}"; do
  step_start=$SECONDS
  set +e
  line=$( (set -e; "demo_$svc") 2>"$STATE/logs/demo-$svc.err")
  rc=$?
  set -e
  if [ $rc = 0 ]; then
    log "  $svc: $(printf '%s' "$line" | tail -1) ($((SECONDS - step_start)) s)"
  else
    failures+=("$svc")
    log "  $svc: FAILED: $(tail -1 "$STATE/logs/demo-$svc.err")"
  fi
done

MODEL_ID=$(cat "$STATE/demo/model_id" 2>/dev/null || true)
CALENDAR_URL="$(url grants)/v1/calendar.ics?token=$CALENDAR_TOKEN"
cat >"$STATE/env" <<ENV
export GABE_TOKEN=$TOKEN
export GABE_WEBHOOK_SECRET=$(cat "$STATE/demo-secret")
export GABE_INGEST_URL=$(url ingest)
export GABE_SCORING_URL=$(url scoring)
export GABE_SEGMENTS_URL=$(url segments)
export GABE_GRANTS_URL=$(url grants)
export GABE_CALENDAR_URL='$CALENDAR_URL'
export GABE_MODEL_ID=$MODEL_ID
export GABE_ADMIN_DATABASE_URL=$ADMIN_URL
export GABE_PROMETHEUS_URL=$PROM_URL
ENV
chmod 600 "$STATE/env"
rel=${STATE#"$ROOT"/}  # .gabe when it is the default

echo
echo "Gabe is running."
show() { printf '  %-15s %s\n' "$1" "$2"; }
for svc in "${started[@]}"; do show "gabe-$svc" "$(url "$svc")   (logs: $rel/logs/$svc.log)"; done
if [ -n "$PROM_URL" ]; then
  show prometheus "$PROM_URL   (alerts: $PROM_URL/alerts; logs: $rel/logs/prometheus.log)"
else
  show prometheus "not installed (apt-get install prometheus), or see $rel/logs/promtool.log"
fi
if [ -n "$MODEL_ID" ]; then
  show "model card" "$(url scoring)/v1/models/$MODEL_ID/card.html   (needs the token; a copy: $rel/model-card.html)"
fi
if [[ " ${started[*]} " == *" grants "* ]]; then
  show "calendar feed" "$CALENDAR_URL"
  show "" "(a viewer token in the URL: subscribe in Thunderbird, Outlook, iPhone)"
fi
show database "$ADMIN_URL"
echo
echo "Admin token (shown once; also in $rel/env as GABE_TOKEN):"
echo "  $TOKEN"
echo "Webhook source 'demo' secret: in $rel/env as GABE_WEBHOOK_SECRET"
echo
echo "Try:  source $rel/env && curl -H \"Authorization: Bearer \$GABE_TOKEN\" \$GABE_INGEST_URL/v1/stats"
if [ ${#failures[@]} -gt 0 ]; then
  echo
  echo "Demo steps FAILED: ${failures[*]} (why: above, and $rel/logs/demo-<service>.err)."
  echo "The services are up; Ctrl-C stops them (exit status 1)."
fi
echo "Press Ctrl-C to stop."

# Until Ctrl-C (the trap), or until a service stops by itself: then everything stops, status 1.
set +e
wait -n "${pids[@]}"
set -e
log "a service stopped by itself; see $rel/logs/"
exit 1
