#!/usr/bin/env bash
# The segments benchmark (issue 9), run by bench/run_bench.sh after the ingest phases, or alone:
# bench/segments_bench.sh BIN_DIR
#
# Starts a private PostgreSQL, migrates it, writes a donor base straight in with SQL
# (GABE_BENCH_SEGMENT_DONORS donors, 10 gifts each, consents, scores, some recent appeals),
# starts gabe-segments and measures, on the same server:
#   S1  the hand-written INSERT ... SELECT of a 5-condition rule (gift rollup, recency, score,
#       consent, country) in psql: the reference
#   S2  POST /v1/segments/{id}/refresh of the same rule, the first one: the rollups of every
#       donor are built first (a full rebuild), then the membership written
#   W   ingest-like writes: new gifts for 1 % of the donors, refunds, a recurring gift (timed
#       with the change triggers of migration 0009, and again without them, rolled back)
#   S2b the same refresh with rollups stale after W: only the changed donors are recomputed
#   S3  the same refresh again with fresh rollups (the membership is compared and kept)
#   D   segments.ensure_donor_facts for tomorrow: the rollups after a day turns
#   S4  POST /v1/matching/runs: 5 campaigns over all donors
# prints a table and, unless GABE_BENCH_DOCS is "-", writes it as the "## Segments" section of
# that file (docs/benchmarks.md by default; an existing section is replaced). Everything it
# starts is stopped on exit.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BIN_DIR" >&2; exit 2; }
BIN=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${GABE_BENCH_SEGMENT_DONORS:-1000000}
DOCS=${GABE_BENCH_DOCS:-$ROOT/docs/benchmarks.md}
for b in gabe-segments gabectl; do
  [ -x "$BIN/$b" ] || { echo "segments_bench: $BIN/$b is missing (build first)" >&2; exit 2; }
done

NAME=segments
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

bench_start_postgres gabe_segbench
TOKEN=$(GABE_DATABASE_URL=$URL "$BIN/gabectl" token create --role fundraiser --name bench | tail -1)

log "writing $(fmt "$N") donors and $(fmt $((N * 10))) gifts"
T0=$(now_ns)
psql -X -q -v ON_ERROR_STOP=1 -v n="$N" "$URL" <<'SQL'
INSERT INTO donor.donors (id, source, ref, language, country, tags, is_placeholder)
SELECT i, 'bench', 'r' || i, (ARRAY['de', 'en', 'fr'])[1 + i % 3],
       (ARRAY['DE', 'AT', 'CH', 'DE'])[1 + i % 4],
       CASE WHEN i % 10 = 0 THEN ARRAY['major'] ELSE '{}'::text[] END, false
FROM generate_series(1, :n) i;
-- Ten gifts per donor on average, skewed amounts, spread over four years.
INSERT INTO donor.gifts (source, ref, donor_id, amount_cents, currency, received_on, status, updated_at)
SELECT 'bench', 'g' || g, 1 + (g * 2654435761) % :n,
       CASE WHEN g % 50 = 0 THEN 50000 + g % 100000 ELSE 500 + (g * 7919) % 9500 END, 'EUR',
       (now() AT TIME ZONE 'Europe/Berlin')::date - ((g * 104729) % 1460)::int,
       CASE WHEN g % 25 = 0 THEN 'refunded' ELSE 'completed' END, now()
FROM generate_series(1, 10 * :n::bigint) g;
INSERT INTO donor.consents (donor_id, channel, granted, at, source)
SELECT i, 'post', i % 5 <> 0, now(), 'bench' FROM generate_series(1, :n) i;
INSERT INTO donor.consents (donor_id, channel, granted, at, source)
SELECT i, 'email', true, now(), 'bench' FROM generate_series(1, :n) i WHERE i % 3 = 0;
INSERT INTO scoring.current_scores (target, donor_id, score, decile, model_id, run_id, scored_at)
SELECT 'give_90d', i, ((i::bigint * 7919) % 1000) / 1000.0, 10 - ((i::bigint * 7919) % 1000) / 100, 1, 1, now()
FROM generate_series(1, :n) i;
INSERT INTO donor.appeals (source, campaign_ref, donor_id, sent_on)
SELECT 'bench', 'summer', i, (now() AT TIME ZONE 'Europe/Berlin')::date - 20
FROM generate_series(1, :n) i WHERE i % 10 = 0;
VACUUM ANALYZE;
SQL
LOAD_S=$(secs "$T0" "$(now_ns)")
log "data written in $LOAD_S s"

PORT=$(free_port)
GABE_DATABASE_URL=$URL GABE_LISTEN=127.0.0.1:$PORT GABE_SEGMENTS_JOB_SECONDS=900 \
  "$BIN/gabe-segments" >"$TMP/segments.log" 2>&1 &
SVC_PID=$!
wait_ready "$PORT"
api() {  # api METHOD PATH [BODY] -> body on stdout; fails on a non-2xx answer
  local data=()
  [ $# -ge 3 ] && data=(--data "$3")
  curl -sS --fail-with-body --max-time 900 -X "$1" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' "${data[@]}" "http://127.0.0.1:$PORT$2"
}

RULE='{"all": [{"field": "gift_amount_365d", "op": ">=", "value": "50.00"},
               {"field": "days_since_last_gift", "op": "<=", "value": 120},
               {"field": "score.give_90d", "op": ">=", "value": 0.3},
               {"consent": "post"},
               {"field": "country", "op": "in", "value": ["DE", "AT"]}]}'

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
log "S1: the hand-written INSERT ... SELECT"
psql -X -q "$URL" -c "CHECKPOINT" -c "CREATE TABLE ref_members (donor_id bigint PRIMARY KEY)"
T0=$(now_ns)
psql -X -q -v ON_ERROR_STOP=1 "$URL" <<'SQL'
SET work_mem = '256MB';  -- as gabe-segments sets on its job connections
INSERT INTO ref_members (donor_id)
SELECT d.id
FROM donor.donors d
JOIN (SELECT donor_id,
             sum(amount_cents) FILTER (WHERE received_on >= (now() AT TIME ZONE 'Europe/Berlin')::date - 364) AS s365,
             max(received_on) AS last_on
      FROM donor.gifts
      WHERE status = 'completed' AND received_on <= (now() AT TIME ZONE 'Europe/Berlin')::date
      GROUP BY donor_id) g ON g.donor_id = d.id
JOIN scoring.current_scores s ON s.donor_id = d.id AND s.target = 'give_90d'
WHERE d.erased_at IS NULL AND d.merged_into IS NULL AND NOT d.is_placeholder
  AND g.s365 >= 5000
  AND (now() AT TIME ZONE 'Europe/Berlin')::date - g.last_on <= 120
  AND s.score >= 0.3
  AND EXISTS (SELECT 1 FROM donor.consents c WHERE c.donor_id = d.id AND c.channel = 'post' AND c.granted)
  AND d.country IN ('DE', 'AT');
SQL
REF_S=$(secs "$T0" "$(now_ns)")
REF_ROWS=$(psql -X -At "$URL" -c "SELECT count(*) FROM ref_members")

SEG=$(api POST /v1/segments "{\"name\": \"bench\", \"rule\": $RULE}")
SEG_ID=$(jget "$SEG" id)
psql -X -q "$URL" -c "CHECKPOINT"
log "S2: first refresh (rollups built in full)"
T0=$(now_ns)
R2=$(api POST "/v1/segments/$SEG_ID/refresh")
COLD_S=$(secs "$T0" "$(now_ns)")
MEMBERS=$(jget "$R2" members)
FACTS_MS=$(psql -X -At "$URL" -c "SELECT duration_ms FROM segments.facts_state")
[ "$MEMBERS" = "$REF_ROWS" ] || { echo "segments_bench: refresh found $MEMBERS members, the reference $REF_ROWS" >&2; exit 1; }

# W: what ingest writes between two refreshes: new gifts for 1 % of the donors (in batches of
# 1,000 rows, as apply_events writes them), refunds of 0.1 %, a new recurring gift. Before, the
# triggers' cost for ingest: gifts for 10 % of the donors written with and without the
# triggers that record the changed donors, both rolled back.
gifts_sql() {  # gifts_sql COUNT PREFIX: a DO block writing COUNT gifts in batches of 1,000
  cat <<EOF
DO \$\$
BEGIN
  FOR b IN 0 .. ($1 - 1) / 1000 LOOP
    INSERT INTO donor.gifts (source, ref, donor_id, amount_cents, currency, received_on, status, updated_at)
    SELECT 'bench', '$2' || g, 1 + (g * 7919) % $N, 1000 + g % 5000, 'EUR',
           (now() AT TIME ZONE 'Europe/Berlin')::date - g % 30, 'completed', now()
    FROM generate_series(b * 1000 + 1, least((b + 1) * 1000, $1)) g;
  END LOOP;
END
\$\$;
EOF
}
TRIAL_GIFTS=$((N / 10))
log "W: $(fmt "$TRIAL_GIFTS") gifts without and with the change triggers (rolled back)"
T0=$(now_ns)
{ echo "BEGIN; ALTER TABLE donor.gifts DISABLE TRIGGER segments_changed_insert;"
  gifts_sql "$TRIAL_GIFTS" trial; echo "ROLLBACK;"; } | psql -X -q -v ON_ERROR_STOP=1 "$URL"
PLAIN_W_S=$(secs "$T0" "$(now_ns)")
T0=$(now_ns)
{ echo "BEGIN;"; gifts_sql "$TRIAL_GIFTS" trial; echo "ROLLBACK;"; } |
  psql -X -q -v ON_ERROR_STOP=1 "$URL"
TRIG_W_S=$(secs "$T0" "$(now_ns)")
NEW_GIFTS=$((N / 100))
log "W: $(fmt "$NEW_GIFTS") new gifts, refunds, a recurring gift"
gifts_sql "$NEW_GIFTS" new | psql -X -q -v ON_ERROR_STOP=1 "$URL"
psql -X -q -v ON_ERROR_STOP=1 "$URL" \
  -c "UPDATE donor.gifts SET status = 'refunded', updated_at = now() WHERE id IN (SELECT id FROM donor.gifts WHERE status = 'completed' AND id % 1000 = 7 LIMIT $((N / 1000)))" \
  -c "INSERT INTO donor.recurring (source, ref, donor_id, amount_cents, currency, interval, status, updated_at) VALUES ('bench', 'rc-new', 42, 2500, 'EUR', 'monthly', 'active', now())"
psql -X -q "$URL" -c "CHECKPOINT"
log "S2b: refresh with rollups stale after the writes"
T0=$(now_ns)
R2B=$(api POST "/v1/segments/$SEG_ID/refresh")
STALE_S=$(secs "$T0" "$(now_ns)")
STALE_FACTS_MS=$(psql -X -At "$URL" -c "SELECT duration_ms FROM segments.facts_state")
STALE_RECOMPUTED=$(psql -X -At "$URL" -c "SELECT recomputed FROM segments.facts_state")
STALE_MEMBERS=$(jget "$R2B" members)
log "S3: refresh with fresh rollups"
T0=$(now_ns)
R3=$(api POST "/v1/segments/$SEG_ID/refresh")
WARM_S=$(secs "$T0" "$(now_ns)")
[ "$(jget "$R3" added)" = 0 ] && [ "$(jget "$R3" removed)" = 0 ] || { echo "segments_bench: second refresh changed members: $R3" >&2; exit 1; }

log "D: the rollups brought to tomorrow (a new day, no write)"
DAY=$(psql -X -At -v ON_ERROR_STOP=1 "$URL" \
  -c "SET work_mem = '256MB'" \
  -c "SELECT recomputed FROM segments.ensure_donor_facts(0, false, (now() AT TIME ZONE 'Europe/Berlin')::date + 1)" \
  -c "SELECT duration_ms FROM segments.facts_state")
DAY_RECOMPUTED=$(echo "$DAY" | grep -v '^SET$' | sed -n 1p)
DAY_MS=$(echo "$DAY" | grep -v '^SET$' | sed -n 2p)
# Back to today, unmeasured (a day backwards is a full rebuild).
psql -X -q -v ON_ERROR_STOP=1 "$URL" -c "SET work_mem = '256MB'" \
  -c "SELECT rebuilt FROM segments.ensure_donor_facts()" >/dev/null

log "S4: matching, 5 campaigns"
MATCH_BODY='{"campaigns": [
  {"campaign_ref": "c1", "target": "give_90d", "capacity": 150000, "cost_per_contact": "0.90", "channel": "post"},
  {"campaign_ref": "c2", "target": "give_90d", "capacity": 150000, "cost_per_contact": "0.70", "channel": "post"},
  {"campaign_ref": "c3", "target": "give_90d", "capacity": 100000, "cost_per_contact": "0.05", "channel": "email"},
  {"campaign_ref": "c4", "target": "give_90d", "capacity": 100000, "cost_per_contact": "0.50", "channel": "post"},
  {"campaign_ref": "c5", "target": "give_90d", "capacity": 50000, "cost_per_contact": "0.02", "channel": "email"}],
  "max_asks_per_donor": 1, "min_days_since_last_ask": 30, "holdout_fraction": 0.1, "seed": 1}'
psql -X -q "$URL" -c "CHECKPOINT"
T0=$(now_ns)
RUN=$(api POST /v1/matching/runs "$MATCH_BODY")
MATCH_S=$(secs "$T0" "$(now_ns)")
CANDS=$(jget "$RUN" candidates)
ASSIGNED=$(jget "$RUN" assigned)
GAP=$(jget "$RUN" optimality_gap)

ok() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "yes" : "NO" }'; }
TABLE=$(cat <<EOF
| segments, $(fmt "$N") donors / $(fmt $((N * 10))) gifts | seconds | target | met |
| --- | --- | --- | --- |
| hand-written \`INSERT … SELECT\` of the 5-condition rule, psql (reference; $(fmt "$REF_ROWS") rows) | $REF_S | — | — |
| first refresh: rollups built in full ($(awk -v m="$FACTS_MS" 'BEGIN { printf "%.2f", m / 1000 }') s), $(fmt "$MEMBERS") members written | $COLD_S | — | — |
| writing $(fmt "$TRIAL_GIFTS") gifts in batches of 1,000, without / with the change triggers | $PLAIN_W_S / $TRIG_W_S | — | — |
| refresh, rollups stale after the writes ($(fmt "$STALE_RECOMPUTED") changed donors recomputed in $(awk -v m="$STALE_FACTS_MS" 'BEGIN { printf "%.2f", m / 1000 }') s), $(fmt "$STALE_MEMBERS") members | $STALE_S | ≤ 5 | $(ok "$STALE_S" 5) |
| refresh, rollups fresh, membership unchanged | $WARM_S | ≤ 5 | $(ok "$WARM_S" 5) |
| rollups brought to the next day, no write ($(fmt "$DAY_RECOMPUTED") donors whose 365-day window moved) | $(awk -v m="$DAY_MS" 'BEGIN { printf "%.2f", m / 1000 }') | — | — |
| matching, 5 campaigns ($(fmt "$CANDS") candidate pairs, $(fmt "$ASSIGNED") assigned, gap bound $GAP) | $MATCH_S | ≤ 15 | $(ok "$MATCH_S" 15) |
EOF
)
echo
echo "$TABLE"
echo
if [ "$DOCS" != "-" ]; then
  SECTION=$(cat <<EOF
## Segments

Written by bench/segments_bench.sh ($(date -u +%Y-%m-%dT%H:%MZ), PostgreSQL $PG_VERSION, its own
private cluster as above; the donor base written with SQL in $LOAD_S s; load average before
the measured phases $LOADAVG, afterwards $(cut -d' ' -f1-3 /proc/loadavg), on $(nproc) cores):

$TABLE

The rule: gave at least 50.00 € in the last 365 days, last gift at most 120 days ago, a
\`give_90d\` score of at least 0.3, post consent, country DE or AT. The reference computes the
same members from \`donor.gifts\` in one statement, with the same \`work_mem\` (256 MB) as the
service's job connections. The first refresh builds \`segments.donor_facts\` for every donor
(all rollups and the RFM counts, not only the two the rule needs) and then writes the
membership with its history; after ingest-like writes (new gifts for 1 % of the donors in
batches of 1,000, refunds for 0.1 %, one recurring gift) the next refresh recomputes only the
changed donors (recorded by migration 0009's triggers). Ingest's cost of the triggers is timed
with and without them: gifts for 10 % of the donors, in batches of 1,000, rolled back.
Matching: 5 campaigns (capacities 150,000 / 150,000 / 100,000 / 100,000 / 50,000; post and
e-mail), one ask per donor, a 30-day rest period, 10 % holdout. Alone: \`GABE_BENCH_DOCS=- bench/segments_bench.sh build/bin\`.
EOF
)
  "$ROOT/bench/write_section.py" "$DOCS" "$SECTION"
  log "wrote the Segments section of $DOCS"
fi
