// The SQL of gabe-segments, named for what each statement does. Every value is a parameter;
// the only SQL built at run time is a compiled rule (rules.hpp), whose identifiers come from
// the fixed catalogue.
#pragma once

#include <string>

namespace gabe::segments::sql {

// The API's view of a segment s, as JSON text.
inline const std::string kSegmentJson = R"sql(json_build_object(
  'id', s.id, 'name', s.name, 'description', s.description, 'rule', s.rule,
  'builtin', s.builtin, 'created_by', s.created_by,
  'created_at', to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'updated_at', to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'refreshed_at', to_char(s.refreshed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'members', s.members)::text)sql";

// $1 name, $2 description, $3 rule (jsonb text), $4 actor -> (id, JSON); no row when the name
// is taken.
inline const std::string kInsertSegment =
    "INSERT INTO segments.segments AS s (name, description, rule, created_by) "
    "VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT DO NOTHING RETURNING s.id, " +
    kSegmentJson;

// $1 after id, $2 limit -> (id, JSON).
inline const std::string kSegmentList =
    "SELECT s.id, " + kSegmentJson +
    " FROM segments.segments s WHERE ($1::bigint IS NULL OR s.id > $1) ORDER BY s.id LIMIT $2";

// $1 id -> JSON.
inline const std::string kSegmentById =
    "SELECT " + kSegmentJson + " FROM segments.segments s WHERE s.id = $1";

// $1 id -> builtin, rule text; locks the segment (refresh, update, delete serialise on it).
inline constexpr const char* kLockSegment =
    "SELECT builtin, rule::text FROM segments.segments WHERE id = $1 FOR UPDATE";

// $1 id, $2 name, $3 description, $4 rule -> JSON. The rule changed: members are kept until
// the next refresh replaces them.
inline const std::string kUpdateSegment =
    "UPDATE segments.segments AS s SET name = $2, description = $3, rule = $4::jsonb, "
    "updated_at = now() WHERE s.id = $1 RETURNING " +
    kSegmentJson;

inline constexpr const char* kNameTaken =
    "SELECT 1 FROM segments.segments WHERE lower(name) = lower($1) AND id IS DISTINCT FROM $2";

// $1 id. Memberships have no foreign key (migration 0007): they go in the same statement.
inline constexpr const char* kDeleteSegment =
    "WITH m AS (DELETE FROM segments.memberships WHERE segment_id = $1) "
    "DELETE FROM segments.segments WHERE id = $1";

// $1 max age of a full rebuild in seconds (0: none) -> (as_of, rebuilt in full, donors
// recomputed).
inline constexpr const char* kEnsureFacts =
    "SELECT as_of::text, rebuilt, recomputed FROM segments.ensure_donor_facts($1::integer)";

// $1 segment, $2 actor, $3 facts as of -> refresh id.
inline constexpr const char* kStartRefresh =
    "INSERT INTO segments.refreshes (segment_id, actor, facts_as_of) VALUES ($1, $2, $3::date) "
    "RETURNING id";

// The set-based refresh of one segment in one statement, around a compiled member query whose
// values are $1: $2 segment, $3 refresh id -> (members, added, removed). The difference of the
// new and the current members is one full join, which PostgreSQL can only run as a hash or
// merge join: no plan compares every member with every other.
inline std::string refresh_statement(const std::string& member_query) {
  return "WITH target AS MATERIALIZED (" + member_query + R"sql(),
diff AS MATERIALIZED (
  SELECT t.donor_id AS joins, c.donor_id AS leaves
  FROM target t
  FULL JOIN (SELECT m.donor_id FROM segments.memberships m
             WHERE m.segment_id = $2::bigint AND m.removed_in IS NULL) c
    ON c.donor_id = t.donor_id
  WHERE t.donor_id IS NULL OR c.donor_id IS NULL
), removed AS (
  UPDATE segments.memberships m SET removed_in = $3::bigint
  FROM diff
  WHERE m.segment_id = $2::bigint AND m.removed_in IS NULL AND m.donor_id = diff.leaves
  RETURNING 1
), added AS (
  INSERT INTO segments.memberships (segment_id, donor_id, added_in)
  SELECT $2::bigint, diff.joins, $3::bigint FROM diff WHERE diff.joins IS NOT NULL
  RETURNING 1
)
SELECT (SELECT count(*) FROM target), (SELECT count(*) FROM added),
       (SELECT count(*) FROM removed))sql";
}

// $1 refresh, $2 members, $3 added, $4 removed, $5 duration ms, $6 segment.
inline constexpr const char* kFinishRefresh = R"sql(
WITH r AS (
  UPDATE segments.refreshes SET members = $2, added = $3, removed = $4, duration_ms = $5
  WHERE id = $1
)
UPDATE segments.segments SET members = $2, refreshed_at = now() WHERE id = $6)sql";

// $1 segment, $2 after refresh id, $3 limit -> (id, JSON), newest first.
inline constexpr const char* kRefreshHistory = R"sql(
SELECT r.id, json_build_object('id', r.id,
  'at', to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'actor', r.actor,
  'facts_as_of', r.facts_as_of, 'members', r.members, 'added', r.added, 'removed', r.removed,
  'duration_ms', r.duration_ms)::text
FROM segments.refreshes r
WHERE r.segment_id = $1 AND ($2::bigint IS NULL OR r.id < $2)
ORDER BY r.id DESC LIMIT $3)sql";

inline constexpr const char* kBuiltinIds =
    "SELECT id FROM segments.segments WHERE builtin ORDER BY id";

// The members of a segment for an export: $1 segment, $2 channel or NULL (only donors with
// consent for it), $3 after donor id or NULL, $4 limit or NULL (all). Columns: donor_id,
// source, ref, then the personal data of every channel (the handler picks what the channel
// needs). Erased and merged-away donors are never listed.
inline constexpr const char* kMembers = R"sql(
SELECT d.id, d.source, d.ref, p.first_name, p.last_name, p.organization_name, p.street,
       p.postal_code, p.city, d.country, p.email, p.phone
FROM segments.memberships m
JOIN donor.donors d ON d.id = m.donor_id
LEFT JOIN pii.donor_pii p ON p.donor_id = d.id AND $2::text IS NOT NULL
WHERE m.segment_id = $1 AND m.removed_in IS NULL
  AND d.erased_at IS NULL AND d.merged_into IS NULL
  AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM donor.consents c
                                   WHERE c.donor_id = d.id AND c.channel = $2 AND c.granted))
  AND ($3::bigint IS NULL OR d.id > $3)
ORDER BY d.id
LIMIT $4)sql";

inline constexpr const char* kSegmentExists = "SELECT 1 FROM segments.segments WHERE id = $1";

// --- matching ---

// $1 created_by, $2 request jsonb -> run id, assigned_on.
inline constexpr const char* kInsertRun = R"sql(
INSERT INTO segments.matching_runs (created_by, assigned_on, request)
VALUES ($1, (now() AT TIME ZONE 'Europe/Berlin')::date, $2::jsonb)
RETURNING id, assigned_on::text)sql";

// $1 run, $2 refs, $3 targets, $4 channels, $5 capacities, $6 costs (cents).
inline constexpr const char* kInsertRunCampaigns = R"sql(
INSERT INTO segments.matching_campaigns (run_id, campaign_ref, position, target, channel, capacity,
                                         cost_per_contact_cents)
SELECT $1, c.ref, c.pos, c.target, c.channel, c.capacity, c.cost
FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) WITH ORDINALITY
  AS c(ref, target, channel, capacity, cost, pos))sql";

// The candidates of a matching run, one row per eligible donor and (target, channel)
// combination the campaigns use, unsorted: the service expands each row to the campaigns with
// that target and channel, keeps the pairs with a positive expected net value and sorts them
// once for its greedy pass (matching.cpp). So the database reads each donor once per
// combination, not once per campaign, and neither sorts nor ranks millions of pairs.
// $1 the distinct targets, $2 the distinct channels, $3 today, $4 min days since the last ask
// -> (target position, channel position, donor, score, expected gift in cents).
// Eligible: not erased, not merged away, not a placeholder, consent for the channel granted, a
// current score for the target, no appeal in the rest period. Expected gift: the donor's mean
// completed gift, else the mean gift of all donors (kept with the rollups by
// segments.ensure_donor_facts; float8: the service computes score x expected gift - cost from
// the exact value PostgreSQL writes).
inline constexpr const char* kCandidates = R"sql(
WITH t AS (
  SELECT * FROM unnest($1::text[]) WITH ORDINALITY AS t(target, pos)
), ch AS (
  SELECT * FROM unnest($2::text[]) WITH ORDINALITY AS ch(channel, pos)
), mean AS (
  SELECT fs.mean_gift_cents AS cents FROM segments.facts_state fs
), eligible AS (
  SELECT d.id AS donor_id,
         COALESCE(f.gift_amount_total_cents::float8 / NULLIF(f.gift_count, 0), mean.cents)
           AS expected_gift
  FROM donor.donors d
  LEFT JOIN segments.donor_facts f ON f.donor_id = d.id
  CROSS JOIN mean
  WHERE d.erased_at IS NULL AND d.merged_into IS NULL AND NOT d.is_placeholder
    AND NOT EXISTS (SELECT 1 FROM donor.appeals a
                    WHERE a.donor_id = d.id AND a.sent_on > $3::date - $4::integer)
)
SELECT t.pos, ch.pos, s.donor_id, s.score, e.expected_gift
FROM t
JOIN scoring.current_scores s ON s.target = t.target
JOIN donor.consents k ON k.donor_id = s.donor_id AND k.granted
JOIN ch ON ch.channel = k.channel
JOIN eligible e ON e.donor_id = s.donor_id)sql";

// $1 run, $2 campaign ref, $3 treatment, $4 holdout, $5 expected value (cents).
inline constexpr const char* kFinishRunCampaign = R"sql(
UPDATE segments.matching_campaigns SET treatment = $3, holdout = $4, expected_value_cents = $5
WHERE run_id = $1 AND campaign_ref = $2)sql";

// $1 run, $2 candidates, $3 assigned, $4 value, $5 bound, $6 duration ms.
inline constexpr const char* kFinishRun = R"sql(
UPDATE segments.matching_runs SET candidates = $2, assigned = $3, expected_value_cents = $4,
  upper_bound_cents = $5, duration_ms = $6
WHERE id = $1)sql";

inline const std::string kRunJsonExpr = R"sql(json_build_object(
  'id', r.id, 'created_by', r.created_by,
  'created_at', to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'assigned_on', r.assigned_on, 'request', r.request, 'candidates', r.candidates,
  'assigned', r.assigned,
  'expected_value', to_char(r.expected_value_cents / 100.0, 'FM999999999990.00'),
  'upper_bound', to_char(r.upper_bound_cents / 100.0, 'FM999999999990.00'),
  'optimality_gap', CASE WHEN r.upper_bound_cents > 0
                         THEN round(1 - r.expected_value_cents::numeric / r.upper_bound_cents, 6)
                         ELSE 0 END,
  'duration_ms', r.duration_ms,
  'campaigns', (SELECT json_agg(json_build_object(
      'campaign_ref', c.campaign_ref, 'target', c.target, 'channel', c.channel,
      'capacity', c.capacity,
      'cost_per_contact', to_char(c.cost_per_contact_cents / 100.0, 'FM999999999990.00'),
      'treatment', c.treatment, 'holdout', c.holdout,
      'expected_value', to_char(c.expected_value_cents / 100.0, 'FM999999999990.00'),
      'appeals_sent_on', c.appeals_sent_on) ORDER BY c.position)
    FROM segments.matching_campaigns c WHERE c.run_id = r.id))::text)sql";

inline const std::string kRunById =
    "SELECT " + kRunJsonExpr + " FROM segments.matching_runs r WHERE r.id = $1";

// $1 after id, $2 limit -> (id, JSON), newest first.
inline const std::string kRunList = "SELECT r.id, " + kRunJsonExpr +
                                    " FROM segments.matching_runs r WHERE ($1::bigint IS NULL OR "
                                    "r.id < $1) ORDER BY r.id DESC LIMIT $2";

inline constexpr const char* kRunExists = "SELECT 1 FROM segments.matching_runs WHERE id = $1";

// $1 run, $2 campaign ref or NULL, $3 after assignment id, $4 limit or NULL.
inline constexpr const char* kAssignments = R"sql(
SELECT a.id, d.id, d.source, d.ref, a.campaign_ref, a.grp,
       to_char(a.expected_value_cents / 100.0, 'FM999999999990.00')
FROM segments.assignments a
JOIN donor.donors d ON d.id = a.donor_id
WHERE a.run_id = $1 AND ($2::text IS NULL OR a.campaign_ref = $2)
  AND d.erased_at IS NULL
  AND ($3::bigint IS NULL OR a.id > $3)
ORDER BY a.id
LIMIT $4)sql";

// $1 run, $2 campaign ref -> channel, appeals_sent_on (locks the row).
inline constexpr const char* kLockRunCampaign = R"sql(
SELECT channel, appeals_sent_on::text FROM segments.matching_campaigns
WHERE run_id = $1 AND campaign_ref = $2 FOR UPDATE)sql";

// $1 run, $2 campaign ref, $3 sent on, $4 channel -> appeals written (treated donors only;
// an appeal already there is kept).
inline constexpr const char* kRecordAppeals = R"sql(
WITH ins AS (
  INSERT INTO donor.appeals (source, campaign_ref, donor_id, sent_on, channel)
  SELECT d.source, $2, d.id, $3::date, $4
  FROM segments.assignments a JOIN donor.donors d ON d.id = a.donor_id
  WHERE a.run_id = $1 AND a.campaign_ref = $2 AND a.grp = 'treatment'
    AND d.erased_at IS NULL AND d.merged_into IS NULL
  ON CONFLICT DO NOTHING
  RETURNING 1
), mark AS (
  UPDATE segments.matching_campaigns SET appeals_sent_on = $3::date
  WHERE run_id = $1 AND campaign_ref = $2
)
SELECT count(*) FROM ins)sql";

// $1 campaign ref, $2 run or NULL (the newest run with the campaign) -> run, assigned_on,
// cost per contact.
inline constexpr const char* kResultsRun = R"sql(
SELECT c.run_id, r.assigned_on::text, c.cost_per_contact_cents
FROM segments.matching_campaigns c JOIN segments.matching_runs r ON r.id = c.run_id
WHERE c.campaign_ref = $1 AND ($2::bigint IS NULL OR c.run_id = $2)
ORDER BY c.run_id DESC LIMIT 1)sql";

// $1 run, $2 campaign ref, $3 assigned on -> per group: donors, responders, revenue (cents).
// A response is a completed gift to the campaign received on or after the assignment day.
inline constexpr const char* kResults = R"sql(
SELECT a.grp, count(*), count(g.revenue), COALESCE(sum(g.revenue), 0)::bigint
FROM segments.assignments a
LEFT JOIN LATERAL (
  SELECT sum(gi.amount_cents) AS revenue FROM donor.gifts gi
  WHERE gi.donor_id = a.donor_id AND gi.campaign_ref = $2 AND gi.status = 'completed'
    AND gi.received_on >= $3::date
  HAVING count(*) > 0
) g ON true
WHERE a.run_id = $1 AND a.campaign_ref = $2
GROUP BY a.grp)sql";

}  // namespace gabe::segments::sql
