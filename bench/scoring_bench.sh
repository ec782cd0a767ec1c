#!/usr/bin/env bash
# The scoring benchmark (issue 8, phase R of `./run bench`), run by bench/run_bench.sh or alone:
# bench/scoring_bench.sh BIN_DIR   (or GABE_BENCH_ONLY=scoring bench/run_bench.sh BIN_DIR)
#
# Starts a private PostgreSQL, migrates it, writes a donor base straight in with SQL
# (GABE_BENCH_SCORING_DONORS donors, 10 gifts each over four years, as bench/segments_bench.sh
# does), then:
#   R1  trains a give_90d model with the one-shot `gabe-scoring train` (reported, no target)
#   R2  activates it (POST /v1/models/{id}/activate) and times the one-shot `gabe-scoring run`:
#       features -> predictions -> exact top-3 reasons -> scores written -> deciles, drift and
#       current scores, with the process's peak RSS and the run's own step times (its log)
#   R3  the online scores, GET /v1/donors/{n}/scores from gabe-loadgen at 32 connections,
#       against GET /healthz of the same service (reference, same run)
# (GABE_BENCH_PERF_OUT=FILE samples the machine with perf meanwhile.)
# prints a table and, unless GABE_BENCH_DOCS is "-", writes it as the "## Scoring" section of
# that file (docs/benchmarks.md by default; an existing section is replaced). The predict step
# against XGBoost's own dense predict is phase T of run_bench.sh (gabe-trees-bench). Everything
# it starts is stopped on exit.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BIN_DIR" >&2; exit 2; }
BIN=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${GABE_BENCH_SCORING_DONORS:-1000000}
SECS=${GABE_BENCH_SECONDS:-20}
WARMUP=${GABE_BENCH_WARMUP:-3}
CONNS=${GABE_BENCH_CONNECTIONS:-32}
DOCS=${GABE_BENCH_DOCS:-$ROOT/docs/benchmarks.md}
# Fewer windows and rows than the defaults: training is reported, not held to a target.
TRAIN_PARAMS=${GABE_BENCH_SCORING_TRAIN_PARAMS:-'{"windows": 2, "max_training_rows": 200000}'}
for b in gabe-scoring gabectl gabe-loadgen; do
  [ -x "$BIN/$b" ] || { echo "scoring_bench: $BIN/$b is missing (build first)" >&2; exit 2; }
done

NAME=scoring
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
# measure LOG CMD...: runs CMD (stderr to LOG), prints "wall_seconds peak_rss_mb" (the child's
# ru_maxrss, i.e. its VmHWM); fails when CMD fails.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
log = open(sys.argv[1], "w")
t0 = time.monotonic()
rc = subprocess.call(sys.argv[2:], stdout=log, stderr=log)
wall = time.monotonic() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if rc != 0:
    sys.exit(f"scoring_bench: {sys.argv[2]} exited {rc}")
print(f"{wall:.1f} {rss:.0f}")
PY
}

bench_start_postgres gabe_scorebench
export GABE_DATABASE_URL=$URL
ADMIN=$("$BIN/gabectl" token create --role admin --name bench | tail -1)
VIEWER=$("$BIN/gabectl" token create --role viewer --name bench-viewer | tail -1)

log "writing $(fmt "$N") donors and $(fmt $((N * 10))) gifts"
T0=$(now_ns)
psql -X -q -v ON_ERROR_STOP=1 -v n="$N" "$URL" <<'SQL'
INSERT INTO donor.donors (id, source, ref, language, country, is_placeholder)
SELECT i, 'bench', 'r' || i, (ARRAY['de', 'en', 'fr'])[1 + i % 3],
       (ARRAY['DE', 'AT', 'CH', 'DE'])[1 + i % 4], false
FROM generate_series(1, :n) i;
SELECT setval('donor.donors_id_seq', :n) \g /dev/null
-- Ten gifts per donor on average, skewed amounts, spread over four years (as segments_bench.sh).
INSERT INTO donor.gifts (source, ref, donor_id, amount_cents, currency, received_on, channel, status, updated_at)
SELECT 'bench', 'g' || g, 1 + (g * 2654435761) % :n,
       CASE WHEN g % 50 = 0 THEN 50000 + g % 100000 ELSE 500 + (g * 7919) % 9500 END, 'EUR',
       (now() AT TIME ZONE 'Europe/Berlin')::date - ((g * 104729) % 1460)::int,
       CASE WHEN g % 3 = 0 THEN 'online' ELSE 'transfer' END,
       CASE WHEN g % 25 = 0 THEN 'refunded' ELSE 'completed' END, now()
FROM generate_series(1, 10 * :n::bigint) g;
VACUUM ANALYZE;
SQL
LOAD_S=$(secs "$T0" "$(now_ns)" 1)
AS_OF=$(psql -X -At "$URL" -c "SELECT (now() AT TIME ZONE 'Europe/Berlin')::date")
log "data written in $LOAD_S s; as of $AS_OF"

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
log "R1: gabe-scoring train --target give_90d --params $TRAIN_PARAMS"
read -r TRAIN_S TRAIN_RSS < <(measure "$TMP/train.log" env GABE_SCORING_THREADS=2 \
  "$BIN/gabe-scoring" train --target give_90d --as-of "$AS_OF" --params "$TRAIN_PARAMS")
MODEL=$(psql -X -At "$URL" -c "SELECT id FROM scoring.models WHERE target = 'give_90d' AND status = 'ready' ORDER BY id DESC LIMIT 1")
[ -n "$MODEL" ] || { echo "scoring_bench: no trained model" >&2; exit 1; }
TRAIN_INFO=$(psql -X -At "$URL" -c "SELECT 'AUC ' || coalesce(card #>> '{metrics,auc}', '?') || ', RFM baseline ' || coalesce(card #>> '{metrics,rfm_baseline_auc}', '?') FROM scoring.models WHERE id = $MODEL")
log "R1: model $MODEL trained in $TRAIN_S s, peak RSS $TRAIN_RSS MB ($TRAIN_INFO)"

PORT=$(free_port)
GABE_LISTEN=127.0.0.1:$PORT GABE_SCORING_SCHEDULE=off "$BIN/gabe-scoring" >"$TMP/service.log" 2>&1 &
SVC_PID=$!
wait_ready "$PORT"
curl -sS --fail-with-body -X POST -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  --data '{"reason": "benchmark"}' "http://127.0.0.1:$PORT/v1/models/$MODEL/activate" >/dev/null

psql -X -q "$URL" -c CHECKPOINT
log "R2: gabe-scoring run --target give_90d (one-shot)"
read -r RUN_S RUN_RSS < <(measure "$TMP/run.log" env GABE_SCORING_THREADS=2 \
  "$BIN/gabe-scoring" run --target give_90d --as-of "$AS_OF")
# The run's own step times, from its "run shard done" log line.
STEPS=$(python3 - "$TMP/run.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if j.get("msg") == "run finishing steps":
        fin = " ".join(f"{float(j[k]):.1f}" for k in
                       ("statistics_seconds", "current_delete_seconds", "current_insert_seconds"))
    if j.get("msg") == "run shard done":
        done = " ".join(f"{float(j[k]):.1f}" for k in
                        ("features_seconds", "scoring_seconds", "writing_seconds", "finishing_seconds"))
print(locals().get("done", "? ? ? ?"), locals().get("fin", "? ? ?"))
PY
)
read -r F_S P_S W_S FIN_S FIN_STATS FIN_DEL FIN_INS <<<"$STEPS"
SCORED=$(psql -X -At "$URL" -c "SELECT donors_scored FROM scoring.runs WHERE target = 'give_90d' AND status = 'succeeded' ORDER BY id DESC LIMIT 1")
CURRENT=$(psql -X -At "$URL" -c "SELECT count(*) FROM scoring.current_scores WHERE target = 'give_90d'")
[ -n "$SCORED" ] && [ "$CURRENT" = "$SCORED" ] || { echo "scoring_bench: the run scored '$SCORED', current scores $CURRENT" >&2; exit 1; }
log "R2: $SCORED donors in $RUN_S s (features $F_S, predict + reasons $P_S, writing $W_S, finishing $FIN_S), peak RSS $RUN_RSS MB"

loadgen() {  # loadgen PATH -> the JSON line
  GABE_LOADGEN_TOKEN=$VIEWER "$BIN/gabe-loadgen" --port "$PORT" --get "$1" --donors "$N" \
    --connections "$CONNS" --warmup "$WARMUP" --duration "$SECS" 2>>"$TMP/loadgen.log" | tail -1
}
log "R3: GET /healthz, $CONNS connections (reference)"
LG_H=$(loadgen /healthz)
log "R3: $LG_H"
log "R3: GET /v1/donors/{n}/scores, $CONNS connections"
# GABE_BENCH_PERF_OUT=FILE: the whole machine sampled with `perf record -a -g` while the scores
# are loaded, kept in FILE (where the time goes: `perf report -i FILE --sort comm,dso`).
PERF_PID=
if [ -n "${GABE_BENCH_PERF_OUT:-}" ]; then
  perf record -a -g -F 499 -o "$GABE_BENCH_PERF_OUT" -- sleep $((WARMUP + SECS)) >"$TMP/perf.log" 2>&1 &
  PERF_PID=$!
fi
LG_S=$(loadgen '/v1/donors/{n}/scores')
[ -z "$PERF_PID" ] || wait "$PERF_PID" || log "R3: perf record failed (see $TMP/perf.log)"
log "R3: $LG_S"
H_RPS=$(jget "$LG_H" rps); H_P99=$(jget "$LG_H" p99_ms)
S_RPS=$(jget "$LG_S" rps); S_P99=$(jget "$LG_S" p99_ms); S_P50=$(jget "$LG_S" p50_ms)
S_NON200=$(jget "$LG_S" non_200); S_REQ=$(jget "$LG_S" requests)
[ "$S_NON200" = 0 ] && [ "$S_REQ" -gt 0 ] || { echo "scoring_bench: scores answered non-200: $LG_S" >&2; exit 1; }
RATIO=$(awk -v a="$S_RPS" -v b="$H_RPS" 'BEGIN { printf "%.2f", a / b }')

ok() { awk -v v="$1" 'BEGIN { print v ? "pass" : "FAIL" }'; }
RUN_OK=$(awk -v s="$RUN_S" -v m="$RUN_RSS" 'BEGIN { print (s <= 60 && m <= 2048) ? 1 : 0 }')
ONLINE_OK=$(awk -v r="$S_RPS" -v p="$S_P99" 'BEGIN { print (r >= 5000 && p <= 20) ? 1 : 0 }')
TABLE=$(cat <<EOF
| what | measured | reference (same run) | target | verdict |
| --- | --- | --- | --- | --- |
| scoring run, one-shot \`gabe-scoring run\`, $(fmt "$SCORED") donors / $(fmt $((N * 10))) gifts, exact top-3 reasons, written | $RUN_S s wall (features $F_S s, predictions + reasons $P_S s, writing $W_S s, finishing $FIN_S s: deciles and histogram $FIN_STATS s, current scores deleted $FIN_DEL s and inserted $FIN_INS s, then the commit), peak RSS $RUN_RSS MB | — | ≤ 60 s, ≤ 2,048 MB | $(ok "$RUN_OK") |
| online scores, \`GET /v1/donors/{id}/scores\`, $CONNS connections, ${SECS} s, random donors | $(fmt "$S_RPS") req/s, p50 $(printf '%.1f' "$S_P50") ms, p99 $(printf '%.1f' "$S_P99") ms | \`GET /healthz\` of the same service: $(fmt "$H_RPS") req/s, p99 $(printf '%.1f' "$H_P99") ms (ratio $RATIO) | ≥ 5,000 req/s, p99 ≤ 20 ms | $(ok "$ONLINE_OK") |
| training give_90d, one-shot \`gabe-scoring train\`, params \`$TRAIN_PARAMS\` | $TRAIN_S s, peak RSS $TRAIN_RSS MB ($TRAIN_INFO: the synthetic gift dates are arithmetic, so these say nothing about real data) | — | (reported) | — |
EOF
)
echo
echo "$TABLE"
echo

SECTION=$(cat <<EOF
## Scoring

Written by bench/scoring_bench.sh ($(date -u +%Y-%m-%dT%H:%MZ), revision $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown),
PostgreSQL $PG_VERSION in its own private cluster; $(nproc) cores, load average before the measured
phases $LOADAVG, afterwards $(cut -d' ' -f1-3 /proc/loadavg)). The machine is shared with other
engineers' builds and tests, so take the figures as one sample, not a median. The donor base
($(fmt "$N") donors, $(fmt $((N * 10))) gifts over four years, as in the segments benchmark) was
written with SQL in $LOAD_S s.

$TABLE

Peak RSS is the process's own (\`ru_maxrss\`, its VmHWM). The step times are the run's own
(its \`run shard done\` log line); "writing" is the COPY of the scores (score, margin,
features, top-3 reasons) and "finishing" deciles, histogram, drift and the target's current
scores. The predict step against XGBoost's own dense predict on the same matrix is the
"Scoring models" row of phase T above (gabe-trees-bench, synthetic rows, same forest code).
The online figures are closed-loop (\`gabe-loadgen --get\`, bench/loadgen.cpp), a viewer token,
donors drawn over all $(fmt "$N"). Alone: \`GABE_BENCH_ONLY=scoring bench/run_bench.sh build/bin\`
or \`bench/scoring_bench.sh build/bin\` (\`GABE_BENCH_SCORING_DONORS\` for a smaller base).
EOF
)
if [ "$DOCS" != "-" ]; then
  "$ROOT/bench/write_section.py" "$DOCS" "$SECTION"
  log "wrote the Scoring section of $DOCS"
fi
if [ "${GABE_BENCH_STRICT:-0}" = 1 ] && { [ "$RUN_OK" != 1 ] || [ "$ONLINE_OK" != 1 ]; }; then
  echo "scoring_bench: a target was missed" >&2
  exit 1
fi
exit 0
