// The SQL of the platform itself (tokens, the audit log), named for what each does, as
// services/<name>/queries.hpp holds a service's. Readiness asks the migration runner
// (migrations::is_current), and writing an audit entry is record_audit's.
#pragma once

namespace gabe::sql {

// $1 SHA-256 of the token, hex -> (name, role) of a token that is not revoked.
inline constexpr const char* kTokenByHash = R"sql(
SELECT name, role FROM gabe.api_tokens WHERE token_hash = decode($1, 'hex') AND revoked_at IS NULL
)sql";

// $1 service, $2 action or NULL, $3 entity or NULL, $4 before id (the cursor) or NULL,
// $5 limit -> (id, JSON text), newest first.
inline constexpr const char* kAuditList = R"sql(
SELECT a.id, json_build_object(
  'id', a.id::text,
  'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  'actor', a.actor, 'action', a.action, 'entity', a.entity, 'details', a.details)::text
FROM gabe.audit_log a
WHERE a.service = $1 AND ($2::text IS NULL OR a.action = $2) AND ($3::text IS NULL OR a.entity = $3)
  AND ($4::bigint IS NULL OR a.id < $4)
ORDER BY a.id DESC LIMIT $5
)sql";

}  // namespace gabe::sql
