// The SQL behind the ingest API's reads, export and erasure, named for what each does.
#pragma once

#include <string>

namespace gabe::ingest::sql {

// The API's view of a donor, as JSON text, for the donors in `d` (joined with `p`).
inline const std::string kDonorJsonExpr = R"sql(
json_build_object(
  'id', d.id, 'source', d.source, 'ref', d.ref, 'language', d.language, 'country', d.country,
  'tags', d.tags, 'placeholder', d.is_placeholder, 'merged_into', d.merged_into,
  'erased', d.erased_at IS NOT NULL,
  'erased_at', to_char(d.erased_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'profiling_objection', d.profiling_objection,
  'updated_at', CASE WHEN isfinite(d.updated_at)
                     THEN to_char(d.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END,
  'created_at', to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  'contact', CASE WHEN p.donor_id IS NULL THEN NULL ELSE json_build_object(
      'first_name', p.first_name, 'last_name', p.last_name, 'organization_name', p.organization_name,
      'email', p.email, 'phone', p.phone, 'street', p.street, 'postal_code', p.postal_code,
      'city', p.city) END,
  'consent', COALESCE((SELECT json_object_agg(c.channel, json_build_object(
      'granted', c.granted, 'at', to_char(c.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      'source', c.source)) FROM donor.consents c WHERE c.donor_id = d.id), '{}'::json),
  'gifts', (SELECT json_build_object(
      'count', count(*),
      'amount_total', to_char(COALESCE(sum(g.amount_cents), 0) / 100.0, 'FM999999999990.00'),
      'first_on', min(g.received_on), 'last_on', max(g.received_on))
    FROM donor.gifts g WHERE g.donor_id = d.id AND g.status = 'completed')
)::text)sql";

// $1 donor id -> one JSON text (or no row).
inline const std::string kDonorJson =
    "SELECT " + kDonorJsonExpr +
    " FROM donor.donors d LEFT JOIN pii.donor_pii p ON p.donor_id = d.id WHERE d.id = $1";

// $1 source or NULL, $2 after id, $3 limit -> (id, JSON text); merged donors are left out.
inline const std::string kDonorList =
    "SELECT d.id, " + kDonorJsonExpr +
    " FROM donor.donors d LEFT JOIN pii.donor_pii p ON p.donor_id = d.id "
    "WHERE ($1::text IS NULL OR d.source = $1) AND ($2::bigint IS NULL OR d.id > $2) AND "
    "d.merged_into IS NULL "
    "ORDER BY d.id LIMIT $3";

inline constexpr const char* kResolveRef = R"sql(
SELECT r.donor_id FROM ingest.donor_refs r WHERE r.source = $1 AND r.ref = $2
)sql";

inline constexpr const char* kDonorExists = "SELECT 1 FROM donor.donors WHERE id = $1";

// $1 donor, $2 after gift id, $3 limit.
inline constexpr const char* kDonorGifts = R"sql(
SELECT g.id, json_build_object(
  'id', g.id, 'source', g.source, 'ref', g.ref,
  'amount', to_char(g.amount_cents / 100.0, 'FM999999999990.00'), 'currency', g.currency,
  'received_on', g.received_on, 'campaign_ref', g.campaign_ref, 'channel', g.channel, 'fund', g.fund,
  'recurring_ref', g.recurring_ref, 'status', g.status)::text
FROM donor.gifts g WHERE g.donor_id = $1 AND ($2::bigint IS NULL OR g.id > $2)
ORDER BY g.id LIMIT $3
)sql";

inline constexpr const char* kStats = R"sql(
SELECT json_build_object(
  'donors', (SELECT count(*) FROM donor.donors WHERE merged_into IS NULL AND erased_at IS NULL),
  'gifts', (SELECT count(*) FROM donor.gifts WHERE status = 'completed'),
  'gift_amount_total', (SELECT to_char(COALESCE(sum(amount_cents), 0) / 100.0, 'FM999999999990.00')
                        FROM donor.gifts WHERE status = 'completed'),
  'events', json_build_object(
     'processed', (SELECT count(*) FROM ingest.inbox WHERE status = 'processed'),
     'rejected', (SELECT count(*) FROM ingest.inbox WHERE status = 'rejected'))
)::text
)sql";

// $1 status or NULL, $2 after id, $3 limit.
inline constexpr const char* kEvents = R"sql(
SELECT i.id, json_build_object(
  'id', i.id, 'source', i.source, 'event_id', i.event_id, 'type', i.type, 'status', i.status,
  'error', i.error, 'attempts', i.attempts,
  'received_at', to_char(i.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))::text
FROM ingest.inbox i
WHERE ($1::text IS NULL OR i.status = $1) AND ($2::bigint IS NULL OR i.id > $2)
ORDER BY i.id LIMIT $3
)sql";

// A rejected event that its adapter now ignores (a CiviCRM test contribution) is not kept.
inline constexpr const char* kDeleteIgnoredEvent =
    "DELETE FROM ingest.inbox WHERE id = $1 AND status = 'rejected'";

inline constexpr const char* kEventForReplay = R"sql(
SELECT i.source, i.event_id, i.raw, i.status, i.adapter,
       to_char(i.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), i.type
FROM ingest.inbox i
WHERE i.id = $1
)sql";

// Art. 15/20 and Art. 17 run every schema's registered privacy step (gabe.privacy_steps,
// migrations/0004_privacy_retention.sql): ingest knows none of the other services' data.
// $1 donor id -> the export document as JSON text.
inline constexpr const char* kDonorExport = "SELECT gabe.export_donor($1)::text";
// $1 donor id, $2 service (its audit list), $3 actor, $4 reason or NULL.
inline constexpr const char* kEraseDonor = "SELECT gabe.erase_donor($1, $2, $3, $4)";
// $1 donor id -> the survivor it was merged into while that one is not erased (NULL otherwise),
// or no row. Locks the record, so that a merge cannot slip in before the erasure.
inline constexpr const char* kDonorForErasure = R"sql(
SELECT s.id FROM donor.donors d LEFT JOIN donor.donors s ON s.id = d.merged_into AND s.erased_at IS NULL
WHERE d.id = $1 FOR UPDATE OF d
)sql";

// $1 source name -> GET /v1/sources/{name} as JSON text, or no row. `records` counts what Gabe
// holds from the source (donors not merged away or erased, gifts, recurring gifts, campaigns),
// keyed by CiviCRM's entity names; `last_pass` is what the running or last pass read.
inline constexpr const char* kSourceStatus = R"sql(
SELECT json_build_object(
  'name', s.name, 'adapter', s.adapter,
  'optin_groups', (SELECT json_object_agg(o.channel, o.group_id) FROM ingest.source_optin_groups o
                   WHERE o.source = s.name),
  'pull', CASE WHEN p.source IS NULL THEN NULL ELSE json_build_object(
    'url', p.url,
    'last_sync_at', to_char(st.last_sync_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'lag_seconds', floor(extract(epoch FROM now() - st.last_sync_at))::bigint,
    'last_full_sync_at', to_char(st.last_full_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'running', st.pass,
    'running_since', CASE WHEN st.pass IS NOT NULL
      THEN to_char(st.pass_started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END,
    'requested', st.requested,
    'records', json_build_object(
      'Contact', (SELECT count(*) FROM donor.donors d WHERE d.source = s.name AND d.ref IS NOT NULL
                  AND d.merged_into IS NULL AND d.erased_at IS NULL AND NOT d.is_placeholder),
      'Contribution', (SELECT count(*) FROM donor.gifts g WHERE g.source = s.name),
      'ContributionRecur', (SELECT count(*) FROM donor.recurring r WHERE r.source = s.name),
      'Campaign', (SELECT count(*) FROM donor.campaigns c WHERE c.source = s.name)),
    'last_pass', st.pass_records,
    'last_error', st.last_error,
    'last_error_at', to_char(st.last_error_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
  END)::text
FROM ingest.sources s
LEFT JOIN ingest.source_pull p ON p.source = s.name
LEFT JOIN ingest.sync_state st ON st.source = s.name
WHERE s.name = $1
)sql";
// $1 source name -> whether it is a pull source, or no row.
inline constexpr const char* kSourceForSync = R"sql(
SELECT p.source IS NOT NULL FROM ingest.sources s
LEFT JOIN ingest.source_pull p ON p.source = s.name WHERE s.name = $1
)sql";
// $1 source name, $2 full (bool) -> the pass now requested; asks the source's sync for a pass
// (a full one stays full).
inline constexpr const char* kRequestSync = R"sql(
UPDATE ingest.sync_state SET requested =
  CASE WHEN requested = 'full' OR $2::boolean THEN 'full' ELSE 'incremental' END
WHERE source = $1 RETURNING requested
)sql";

}  // namespace gabe::ingest::sql
