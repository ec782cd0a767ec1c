// The SQL of the scoring service, named for what each statement does. Every value is a
// parameter; the only text built in C++ is the decile expression over fixed column names.
#pragma once

#include <string>

namespace gabe::scoring::sql {

// Decile of score `s` in a run with descending bounds `b` (9 values): 1 + #{k : s < b[k]}.
inline std::string decile_expr(const std::string& s, const std::string& b) {
  std::string e = "(1";
  for (int k = 1; k <= 9; ++k) {
    e += " + (";
    e += s;
    e += " < ";
    e += b;
    e += "[";
    e += std::to_string(k);
    e += "])::int";
  }
  return e + ")";
}

inline constexpr const char* kInstant = R"sql('YYYY-MM-DD"T"HH24:MI:SS"Z"')sql";

// ---- models

// $1 target name, $2 target json, $3 as_of, $4 params json, $5 created_by -> id
inline constexpr const char* kInsertModel = R"sql(
INSERT INTO scoring.models (target, target_spec, as_of, status, params, created_by)
VALUES ($1, $2::jsonb, $3::date, 'training', $4::jsonb, $5) RETURNING id
)sql";

// $1 id -> target, as_of, params
inline constexpr const char* kModelForTraining = R"sql(
SELECT target, as_of::text, params::text FROM scoring.models WHERE id = $1 AND status = 'training'
)sql";

// $1 id, $2 card, $3 bytes, $4 sha256, $5 fairness passed
inline constexpr const char* kModelTrained = R"sql(
UPDATE scoring.models SET status = 'ready', card = $2::jsonb, model_bytes = $3, model_sha256 = $4,
  fairness_passed = $5, finished_at = now()
WHERE id = $1 AND status = 'training'
)sql";

// $1 id, $2 error
inline constexpr const char* kFailModel = R"sql(
UPDATE scoring.models SET status = 'failed', error = $2, finished_at = now()
WHERE id = $1 AND status = 'training'
)sql";

// $1 the process's start (Unix seconds): only models created before it can be interrupted.
inline constexpr const char* kTrainingModels =
    "SELECT id FROM scoring.models WHERE status = 'training' AND created_at < to_timestamp($1) "
    "ORDER BY id";

// $1 id -> target, status, bytes, features json
inline constexpr const char* kModelForScoring = R"sql(
SELECT target, status, model_bytes, coalesce(card -> 'features', '[]'::jsonb)::text
FROM scoring.models WHERE id = $1
)sql";

// $1 id -> target, status
inline constexpr const char* kModelStatus =
    "SELECT target, status, fairness_passed FROM scoring.models WHERE id = $1";

// $1 target -> the active model's id
inline constexpr const char* kActiveModel =
    "SELECT id FROM scoring.models WHERE target = $1 AND status = 'active'";

// A model as the API shows it: the card with the row's status, activation and failure.
inline const std::string kModelJsonExpr = std::string(R"sql(
(coalesce(m.card, jsonb_build_object('target', m.target_spec, 'as_of', m.as_of::text,
                                     'params', m.params))
 || jsonb_build_object(
   'model_id', m.id, 'status', m.status, 'created_by', m.created_by,
   'created_at', to_char(m.created_at AT TIME ZONE 'UTC', )sql") +
                                          kInstant + R"sql(),
   'finished_at', to_char(m.finished_at AT TIME ZONE 'UTC', )sql" +
                                          kInstant + R"sql(),
   'error', m.error,
   'fairness_passed', m.fairness_passed,
   'activation', CASE WHEN m.activated_at IS NULL THEN NULL ELSE jsonb_build_object(
       'activated_at', to_char(m.activated_at AT TIME ZONE 'UTC', )sql" +
                                          kInstant + R"sql(),
       'activated_by', m.activated_by, 'reason', m.activation_reason,
       'fairness_override', m.fairness_override) END,
   'retired_at', to_char(m.retired_at AT TIME ZONE 'UTC', )sql" +
                                          kInstant + R"sql()))::text)sql";

inline const std::string kModelJson =
    "SELECT " + kModelJsonExpr + " FROM scoring.models m WHERE m.id = $1";

// $1 target or NULL, $2 status or NULL, $3 after id, $4 limit; newest first
inline const std::string kModelList =
    "SELECT m.id, " + kModelJsonExpr +
    " FROM scoring.models m WHERE ($1::text IS NULL OR m.target = $1) AND "
    "($2::text IS NULL OR m.status = $2) AND ($3::bigint IS NULL OR m.id < $3) "
    "ORDER BY m.id DESC LIMIT $4";

// $1 target: retire the active model
inline constexpr const char* kRetireActive = R"sql(
UPDATE scoring.models SET status = 'retired', retired_at = now()
WHERE target = $1 AND status = 'active' RETURNING id
)sql";

// $1 id, $2 actor, $3 reason, $4 override
inline constexpr const char* kActivate = R"sql(
UPDATE scoring.models SET status = 'active', activated_at = now(), activated_by = $2,
  activation_reason = $3, fairness_override = $4, retired_at = NULL
WHERE id = $1
)sql";

// $1 id -> status, target, fairness_passed (locked)
inline constexpr const char* kModelForActivation =
    "SELECT status, target, fairness_passed FROM scoring.models WHERE id = $1 FOR UPDATE";

// ---- runs

// $1 model, $2 target, $3 as_of, $4 trigger, $5 shards, $6 actor -> id (none when a run of the
// target is open)
inline constexpr const char* kInsertRun = R"sql(
INSERT INTO scoring.runs (model_id, target, as_of, status, trigger, shards, created_by)
VALUES ($1, $2, $3::date, 'queued', $4, $5, $6)
ON CONFLICT (target) WHERE status IN ('queued', 'running') DO NOTHING
RETURNING id
)sql";

// $1 target -> id, model_id, shards, as_of
inline constexpr const char* kOpenRun = R"sql(
SELECT id, model_id, shards, as_of::text FROM scoring.runs
WHERE target = $1 AND status IN ('queued', 'running')
)sql";

// $1 run, $2 shard -> model_id, as_of days, shards, shard already done, target
inline constexpr const char* kClaimRun = R"sql(
UPDATE scoring.runs SET status = 'running', started_at = coalesce(started_at, now()),
  heartbeat_at = now(), phase = 'features'
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING model_id, as_of - DATE '1970-01-01', shards, $2 = ANY (shards_done), target
)sql";

// $1 run, $2 phase, $3 donors added to the total, $4 donors done
inline constexpr const char* kRunProgress = R"sql(
UPDATE scoring.runs SET phase = $2, donors_total = donors_total + $3,
  donors_done = donors_done + $4, heartbeat_at = now()
WHERE id = $1 AND status = 'running'
)sql";

// $1 run, $2 shard, $3 scored, $4 erased, $5 objection -> whether every shard is in
inline constexpr const char* kShardDone = R"sql(
UPDATE scoring.runs SET shards_done = array_append(shards_done, $2),
  donors_scored = coalesce(donors_scored, 0) + $3, excluded_erased = excluded_erased + $4,
  excluded_objection = excluded_objection + $5, heartbeat_at = now(),
  phase = CASE WHEN cardinality(shards_done) + 1 = shards THEN 'finishing' ELSE 'waiting for shards' END
WHERE id = $1 AND status = 'running' AND NOT ($2 = ANY (shards_done))
RETURNING cardinality(shards_done) = shards
)sql";

// $1 run: scores of donors erased while the run was working (its snapshot still showed them)
// are dropped before the run counts as done.
inline constexpr const char* kDropScoresErasedMeanwhile = R"sql(
DELETE FROM scoring.scores s USING donor.donors d, scoring.runs r
WHERE r.id = $1 AND s.run_id = $1 AND d.id = s.donor_id AND d.erased_at >= r.started_at
)sql";

// $1 run, $2 error
inline constexpr const char* kFailRun = R"sql(
UPDATE scoring.runs SET status = 'failed', error = $2, finished_at = now(), phase = NULL
WHERE id = $1 AND status IN ('queued', 'running')
)sql";

// Open runs and whether they may be declared interrupted when nobody holds their lock: a
// one-shard run always (its worker is gone), a sharded run once no shard has reported for
// 10 minutes (its other shards may not have started yet).
inline constexpr const char* kOpenRunsForRecovery = R"sql(
SELECT id, shards = 1 OR coalesce(heartbeat_at, created_at) < now() - interval '10 minutes'
FROM scoring.runs WHERE status IN ('queued', 'running') AND created_at < to_timestamp($1)
ORDER BY id
)sql";

inline constexpr const char* kDecileBounds = R"sql(
SELECT percentile_disc(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
         WITHIN GROUP (ORDER BY score DESC)::text
FROM scoring.scores WHERE run_id = $1
)sql";

// $1 run, $2 bins -> counts "c1,c2,..."
inline constexpr const char* kHistogramCounts = R"sql(
SELECT string_agg(coalesce(c.n, 0)::text, ',' ORDER BY b)
FROM generate_series(1, $2::int) b
LEFT JOIN (SELECT least(width_bucket(score, 0, 1, $2::int), $2::int) AS bin, count(*) AS n
           FROM scoring.scores WHERE run_id = $1 GROUP BY 1) c ON c.bin = b
)sql";

// $1 target, $2 run -> the previous succeeded run and its histogram counts "c1,c2,..."
inline constexpr const char* kPreviousRunHistogram = R"sql(
SELECT id, (SELECT string_agg(v, ',') FROM jsonb_array_elements_text(histogram) v)
FROM scoring.runs WHERE target = $1 AND status = 'succeeded' AND id <> $2
ORDER BY finished_at DESC, id DESC LIMIT 1
)sql";

// $1 run, $2 bounds, $3 histogram, $4 psi, $5 previous run
inline constexpr const char* kCompleteRun = R"sql(
UPDATE scoring.runs SET status = 'succeeded', phase = NULL, decile_bounds = $2::float8[],
  histogram = $3::jsonb, psi = $4, previous_run_id = $5, finished_at = now()
WHERE id = $1
)sql";

// $1 run: the target's current scores become this run's, when its model is the active one.
inline constexpr const char* kReplaceCurrentScoresDelete = R"sql(
DELETE FROM scoring.current_scores c USING scoring.runs r JOIN scoring.models m ON m.id = r.model_id
WHERE r.id = $1 AND m.status = 'active' AND c.target = r.target
)sql";
// The run writes exactly three reasons per donor (kReasons in runs.cpp); their feature values
// are picked out of the features here, once per run, so that the donor's answer needs no read of
// scoring.scores.
inline const std::string kReplaceCurrentScoresInsert =
    "INSERT INTO scoring.current_scores (target, donor_id, score, decile, model_id, run_id, "
    "scored_at, as_of, reason_features, reason_values, reason_contribs) "
    "SELECT r.target, s.donor_id, s.score, " +
    decile_expr("s.score", "r.decile_bounds") +
    ", r.model_id, r.id, now(), r.as_of, s.reason_features, "
    "ARRAY[s.features[s.reason_features[1] + 1], s.features[s.reason_features[2] + 1], "
    "s.features[s.reason_features[3] + 1]], s.reason_contribs "
    "FROM scoring.runs r JOIN scoring.models m ON m.id = r.model_id "
    "JOIN scoring.scores s ON s.run_id = r.id WHERE r.id = $1 AND m.status = 'active'";

// A run as the API shows it.
inline const std::string kRunJsonExpr = std::string(R"sql(
json_build_object(
  'run_id', r.id, 'model_id', r.model_id, 'target', r.target, 'as_of', r.as_of::text,
  'status', r.status, 'trigger', r.trigger, 'shards', r.shards,
  'shards_done', cardinality(r.shards_done), 'phase', r.phase,
  'progress', json_build_object('donors_done', r.donors_done, 'donors_total', r.donors_total),
  'donors_scored', r.donors_scored,
  'excluded', json_build_object('erased', r.excluded_erased, 'objection', r.excluded_objection),
  'created_by', r.created_by,
  'created_at', to_char(r.created_at AT TIME ZONE 'UTC', )sql") +
                                        kInstant + R"sql(),
  'started_at', to_char(r.started_at AT TIME ZONE 'UTC', )sql" +
                                        kInstant + R"sql(),
  'finished_at', to_char(r.finished_at AT TIME ZONE 'UTC', )sql" +
                                        kInstant + R"sql(),
  'duration_seconds', CASE WHEN r.finished_at IS NOT NULL AND r.started_at IS NOT NULL
                           THEN round(extract(epoch FROM r.finished_at - r.started_at)::numeric, 3) END,
  'histogram', (SELECT json_agg(json_build_object('from', (h.ord - 1) / 20.0, 'to', h.ord / 20.0,
                                                  'count', h.n::bigint) ORDER BY h.ord)
                FROM jsonb_array_elements_text(r.histogram) WITH ORDINALITY h(n, ord)),
  'decile_bounds', r.decile_bounds,
  'drift', json_build_object('psi', r.psi, 'previous_run_id', r.previous_run_id),
  'error', r.error)::text)sql";

inline const std::string kRunJson =
    "SELECT " + kRunJsonExpr + " FROM scoring.runs r WHERE r.id = $1";

// $1 target, $2 status, $3 after, $4 limit; newest first
inline const std::string kRunList =
    "SELECT r.id, " + kRunJsonExpr +
    " FROM scoring.runs r WHERE ($1::text IS NULL OR r.target = $1) AND "
    "($2::text IS NULL OR r.status = $2) AND ($3::bigint IS NULL OR r.id < $3) "
    "ORDER BY r.id DESC LIMIT $4";

// $1 run -> status, model_id
inline constexpr const char* kRunHeader = "SELECT status, model_id FROM scoring.runs WHERE id = $1";

// $1 run, $2 after donor id, $3 limit -> donor_id, source, ref, score, decile, margin,
// features, reason features, reason contributions
inline const std::string kRunScores =
    "SELECT s.donor_id, d.source, d.ref, s.score, " + decile_expr("s.score", "r.decile_bounds") +
    ", s.margin, array_to_string(s.features, ',', 'NaN'), array_to_string(s.reason_features, ','), "
    "array_to_string(s.reason_contribs, ',') "
    "FROM scoring.scores s JOIN scoring.runs r ON r.id = s.run_id "
    "JOIN donor.donors d ON d.id = s.donor_id "
    "WHERE s.run_id = $1 AND ($2::bigint IS NULL OR s.donor_id > $2) ORDER BY s.donor_id LIMIT $3";

// $1 donor -> per target the current score (the latest succeeded run of the active model,
// what segments read) with its run's as-of date and reasons: one probe of
// current_scores_donor_idx. Prepared on each pool connection (handlers.cpp).
inline const std::string kDonorScores =
    "SELECT target, model_id, run_id, as_of::text, score, decile, "
    "array_to_string(reason_values, ',', 'NaN'), array_to_string(reason_features, ','), "
    "array_to_string(reason_contribs, ','), to_char(scored_at AT TIME ZONE 'UTC', " +
    std::string(kInstant) + ") FROM scoring.current_scores WHERE donor_id = $1 ORDER BY target";

inline constexpr const char* kDonorExists = "SELECT 1 FROM donor.donors WHERE id = $1";

// For the metrics: the latest succeeded run per target.
inline constexpr const char* kLatestRuns = R"sql(
SELECT DISTINCT ON (target) target, extract(epoch FROM finished_at)::float8,
  extract(epoch FROM finished_at - started_at)::float8, coalesce(psi, 0), coalesce(donors_scored, 0)
FROM scoring.runs WHERE status = 'succeeded' ORDER BY target, finished_at DESC, id DESC
)sql";

// Targets with an active model (the schedule runs them).
inline constexpr const char* kActiveTargets =
    "SELECT id, target FROM scoring.models WHERE status = 'active' ORDER BY target";

// $1 target, $2 as_of: whether a run of this date already succeeded or is open.
inline constexpr const char* kRunExistsForDate = R"sql(
SELECT 1 FROM scoring.runs WHERE target = $1 AND as_of = $2::date
  AND status IN ('queued', 'running', 'succeeded')
)sql";

}  // namespace gabe::scoring::sql
