// gabe-grants' SQL, named for what each statement does. Every value is a parameter; the
// occurrences of deadlines come from grants.deadline_occurrences()
// (migrations/functions/grants/).
#pragma once

// An instant as RFC 3339 UTC text, whole seconds.
#define GABE_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

namespace gabe::grants::sql {

// ---- funders

#define GABE_FUNDER_JSON                                                                          \
  "json_build_object('id', f.id, 'name', f.name, 'kind', f.kind, 'website', f.website, "          \
  "'notes', f.notes, 'grants', (SELECT count(*) FROM grants.grants g WHERE g.funder_id = f.id), " \
  "'created_at', " GABE_UTC("f.created_at") ", 'updated_at', " GABE_UTC("f.updated_at") ")::text"

// $1 name, $2 kind, $3 website, $4 notes -> id
inline constexpr const char* kInsertFunder =
    "INSERT INTO grants.funders (name, kind, website, notes) VALUES ($1, $2, $3, $4) RETURNING id";

// $1 id -> name, kind, website, notes (locked for a change)
inline constexpr const char* kFunderForUpdate =
    "SELECT name, kind, website, notes FROM grants.funders WHERE id = $1 FOR UPDATE";

// $1 id, $2 name, $3 kind, $4 website, $5 notes
inline constexpr const char* kUpdateFunder =
    "UPDATE grants.funders SET name = $2, kind = $3, website = $4, notes = $5, updated_at = now() "
    "WHERE id = $1";

// $1 id -> JSON text
inline constexpr const char* kFunderJson =
    "SELECT " GABE_FUNDER_JSON " FROM grants.funders f WHERE f.id = $1";

// $1 kind or NULL, $2 after id or NULL, $3 limit -> (id, JSON text)
inline constexpr const char* kListFunders =
    "SELECT f.id, " GABE_FUNDER_JSON
    " FROM grants.funders f "
    "WHERE ($1::text IS NULL OR f.kind = $1) AND ($2::bigint IS NULL OR f.id > $2) "
    "ORDER BY f.id LIMIT $3";

// $1 id -> the grants that still name the funder
inline constexpr const char* kFunderGrantCount =
    "SELECT count(*) FROM grants.grants WHERE funder_id = $1";

// $1 id -> the id when deleted
inline constexpr const char* kDeleteFunder =
    "DELETE FROM grants.funders WHERE id = $1 RETURNING id";

#undef GABE_FUNDER_JSON

// ---- grants

#define GABE_GRANT_COLUMNS                                                                \
  "g.id, g.funder_id, f.name, g.title, g.programme, g.status, g.amount_requested_cents, " \
  "g.amount_awarded_cents, g.amount_received_cents, g.owner, g.period_start::text, "      \
  "g.period_end::text, g.notes, " GABE_UTC("g.created_at") ", " GABE_UTC("g.updated_at")

// $1 id -> the grant's columns (GrantRow order), locked when asked for a change
inline constexpr const char* kGrantById =
    "SELECT " GABE_GRANT_COLUMNS
    " FROM grants.grants g JOIN grants.funders f ON f.id = g.funder_id WHERE g.id = $1";
inline constexpr const char* kGrantForUpdate =
    "SELECT " GABE_GRANT_COLUMNS
    " FROM grants.grants g JOIN grants.funders f ON f.id = g.funder_id WHERE g.id = $1 "
    "FOR UPDATE OF g";

// $1 status, $2 funder_id, $3 owner (each or NULL), $4 after id or NULL, $5 limit
inline constexpr const char* kListGrants =
    "SELECT " GABE_GRANT_COLUMNS
    " FROM grants.grants g JOIN grants.funders f ON f.id = g.funder_id "
    "WHERE ($1::text IS NULL OR g.status = $1) AND ($2::bigint IS NULL OR g.funder_id = $2) "
    "AND ($3::text IS NULL OR g.owner = $3) AND ($4::bigint IS NULL OR g.id > $4) "
    "ORDER BY g.id LIMIT $5";

#undef GABE_GRANT_COLUMNS

// $1 id -> 1 when the funder exists (locked against a concurrent delete)
inline constexpr const char* kFunderExists =
    "SELECT 1 FROM grants.funders WHERE id = $1 FOR KEY SHARE";

// $1 funder_id, $2 title, $3 programme, $4 status, $5 requested, $6 awarded, $7 received
// (cents), $8 owner, $9 period_start, $10 period_end, $11 notes -> id
inline constexpr const char* kInsertGrant = R"sql(
INSERT INTO grants.grants (funder_id, title, programme, status, amount_requested_cents,
                           amount_awarded_cents, amount_received_cents, owner, period_start,
                           period_end, notes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10::date, $11)
RETURNING id
)sql";

// $1 id, then as kInsertGrant
inline constexpr const char* kUpdateGrant = R"sql(
UPDATE grants.grants
   SET funder_id = $2, title = $3, programme = $4, status = $5, amount_requested_cents = $6,
       amount_awarded_cents = $7, amount_received_cents = $8, owner = $9,
       period_start = $10::date, period_end = $11::date, notes = $12, updated_at = now()
 WHERE id = $1
)sql";

// $1 grant, $2 from (NULL at creation), $3 to, $4 actor
inline constexpr const char* kInsertHistory =
    "INSERT INTO grants.status_history (grant_id, from_status, to_status, actor) "
    "VALUES ($1, $2, $3, $4)";

// $1 grant, $2 after id or NULL, $3 limit -> (id, JSON text)
inline constexpr const char* kListHistory =
    "SELECT h.id, json_build_object('from', h.from_status, 'to', h.to_status, 'at', "
    GABE_UTC("h.at") ", 'actor', h.actor)::text FROM grants.status_history h "
    "WHERE h.grant_id = $1 AND ($2::bigint IS NULL OR h.id > $2) ORDER BY h.id LIMIT $3";

// $1 grant: its deadlines become tombstones (the calendar cancels them) before it goes.
inline constexpr const char* kTombstoneGrantDeadlines =
    "UPDATE grants.deadlines SET deleted_at = now(), updated_at = now(), revision = revision + 1 "
    "WHERE grant_id = $1 AND deleted_at IS NULL";

// $1 id -> the id when deleted
inline constexpr const char* kDeleteGrant = "DELETE FROM grants.grants WHERE id = $1 RETURNING id";

// ---- deadlines

// The first occurrence's Europe/Berlin wall-clock time from the parameters `at` (due_at,
// RFC 3339) or `on` (due_on, a day: 23:59 local time).
#define GABE_LOCAL_DUE(at, on) \
  "COALESCE(" on "::date + time '23:59', " at "::timestamptz AT TIME ZONE 'Europe/Berlin')"

// The first occurrence's instant and local time from $3 due_at or $4 due_on.
#define GABE_DEADLINE_TIMES                                                   \
  "(SELECT COALESCE(($4::date + time '23:59') AT TIME ZONE 'Europe/Berlin', " \
  "$3::timestamptz) AS first_due_at, " GABE_LOCAL_DUE("$3", "$4") " AS local_due) t"

// $1 due_at, $2 due_on, $3 every_months, $4 until -> the first occurrence's local day and the
// number of occurrences
inline constexpr const char* kCheckDeadline =
    "SELECT t.local_due::date::text, grants.count_occurrences(t.local_due, $3::integer, $4::date) "
    "FROM (SELECT " GABE_LOCAL_DUE("$1", "$2") " AS local_due) t";

// $1 grant, $2 kind, $3 due_at, $4 due_on, $5 internal_due_on, $6 owner, $7 notes,
// $8 every_months, $9 until -> id
inline constexpr const char* kInsertDeadline =
    "INSERT INTO grants.deadlines (grant_id, kind, first_due_at, local_due, due_on, "
    "internal_due_on, owner, notes, every_months, until_on, peak_occurrences) "
    "SELECT $1, $2, t.first_due_at, t.local_due, $4::date, $5::date, $6, $7, $8::integer, "
    "$9::date, grants.count_occurrences(t.local_due, $8::integer, $9::date) "
    "FROM " GABE_DEADLINE_TIMES " RETURNING id";

// As kInsertDeadline with $1 the deadline's id: a new revision (the calendar's SEQUENCE).
inline constexpr const char* kUpdateDeadline =
    "UPDATE grants.deadlines d SET kind = $2, first_due_at = t.first_due_at, "
    "local_due = t.local_due, due_on = $4::date, internal_due_on = $5::date, owner = $6, "
    "notes = $7, every_months = $8::integer, until_on = $9::date, revision = d.revision + 1, "
    "peak_occurrences = GREATEST(d.peak_occurrences, grants.count_occurrences(t.local_due, "
    "$8::integer, $9::date)), updated_at = now() FROM " GABE_DEADLINE_TIMES " WHERE d.id = $1";

#undef GABE_DEADLINE_TIMES
#undef GABE_LOCAL_DUE

// $1 id -> the fields a PATCH starts from (locked)
inline constexpr const char* kDeadlineForUpdate =
    "SELECT grant_id, kind, " GABE_UTC("first_due_at") ", due_on::text, internal_due_on::text, "
    "owner, notes, every_months, until_on::text FROM grants.deadlines "
    "WHERE id = $1 AND deleted_at IS NULL FOR UPDATE";

#define GABE_OCCURRENCE_JSON \
  "json_build_object('id', o.deadline_id, 'occurrence', o.occurrence, 'due_at', "            \
  GABE_UTC("o.due_at") ", 'internal_due_on', o.internal_due_on, 'state', o.state, "          \
  "'completed_at', " GABE_UTC("o.completed_at") ", 'kind', d.kind, 'owner', d.owner, "        \
  "'grant', CASE WHEN g.id IS NULL THEN NULL ELSE json_build_object('id', g.id, 'title', "   \
  "g.title, 'status', g.status, 'funder', f.name) END)"

#define GABE_DEADLINE_JSON \
  "json_build_object('id', d.id, 'grant_id', d.grant_id, 'kind', d.kind, 'due_at', "          \
  GABE_UTC("d.first_due_at") ", 'due_on', d.due_on, 'internal_due_on', d.internal_due_on, "   \
  "'owner', d.owner, 'notes', d.notes, 'recurrence', CASE WHEN d.every_months IS NULL "       \
  "THEN NULL ELSE json_build_object('every_months', d.every_months, 'until', d.until_on) "    \
  "END, 'revision', d.revision, 'created_at', " GABE_UTC("d.created_at") ", 'updated_at', "   \
  GABE_UTC("d.updated_at") ", 'occurrences', (SELECT json_agg(json_build_object("             \
  "'occurrence', o.occurrence, 'due_at', " GABE_UTC("o.due_at") ", 'internal_due_on', "       \
  "o.internal_due_on, 'state', o.state, 'completed_at', " GABE_UTC("o.completed_at")          \
  ") ORDER BY o.occurrence) FROM grants.deadline_occurrences() o "                            \
  "WHERE o.deadline_id = d.id AND NOT o.cancelled))::text"

// $1 id -> JSON text of a live deadline, with its occurrences
inline constexpr const char* kDeadlineJson =
    "SELECT " GABE_DEADLINE_JSON
    " FROM grants.deadlines d WHERE d.id = $1 AND d.deleted_at IS NULL";

// $1 grant, $2 after id or NULL, $3 limit -> (id, JSON text) of its live deadlines
inline constexpr const char* kGrantDeadlines =
    "SELECT d.id, " GABE_DEADLINE_JSON
    " FROM grants.deadlines d WHERE d.grant_id = $1 "
    "AND d.deleted_at IS NULL AND ($2::bigint IS NULL OR d.id > $2) ORDER BY d.id LIMIT $3";

#undef GABE_DEADLINE_JSON

// $1 state, $2 within_days, $3 grant, $4 owner (each or NULL), $5 cursor due time in epoch
// microseconds, $6 cursor deadline id, $7 cursor occurrence (all NULL on the first page),
// $8 limit -> (cursor key, JSON text), by due time
inline constexpr const char* kListOccurrences =
    "SELECT (extract(epoch FROM o.due_at) * 1000000)::bigint || '.' || o.deadline_id || '.' || "
    "o.occurrence, " GABE_OCCURRENCE_JSON
    "::text "
    "FROM grants.deadline_occurrences() o JOIN grants.deadlines d ON d.id = o.deadline_id "
    "LEFT JOIN grants.grants g ON g.id = o.grant_id LEFT JOIN grants.funders f ON f.id = "
    "g.funder_id "
    "WHERE NOT o.cancelled AND ($1::text IS NULL OR o.state = $1) "
    "AND ($2::integer IS NULL OR o.due_at < now() + make_interval(days => $2::integer)) "
    "AND ($3::bigint IS NULL OR o.grant_id = $3) AND ($4::text IS NULL OR d.owner = $4) "
    "AND ($5::bigint IS NULL OR (o.due_at, o.deadline_id, o.occurrence) > "
    "('epoch'::timestamptz + $5::bigint * interval '1 microsecond', $6::bigint, $7::integer)) "
    "ORDER BY o.due_at, o.deadline_id, o.occurrence LIMIT $8";

#undef GABE_OCCURRENCE_JSON

// $1 id -> 1 when the deadline is live (locked)
inline constexpr const char* kLockDeadline =
    "SELECT 1 FROM grants.deadlines WHERE id = $1 AND deleted_at IS NULL FOR UPDATE";

// $1 id, $2 occurrence or NULL -> the occurrence to complete: the given one if it exists, else
// the earliest not yet done
inline constexpr const char* kOccurrenceToComplete =
    "SELECT o.occurrence, o.state FROM grants.deadline_occurrences() o "
    "WHERE o.deadline_id = $1 AND NOT o.cancelled "
    "AND (($2::integer IS NULL AND o.state <> 'done') OR o.occurrence = $2::integer) "
    "ORDER BY o.occurrence LIMIT 1";

// $1 id, $2 occurrence, $3 actor
inline constexpr const char* kInsertCompletion =
    "INSERT INTO grants.completions (deadline_id, occurrence, actor) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING";

// $1 id, $2 occurrence or NULL -> the occurrence reopened: the given one if it was done, else
// the one completed last
inline constexpr const char* kDeleteCompletion =
    "DELETE FROM grants.completions WHERE deadline_id = $1 AND occurrence = COALESCE($2::integer, "
    "(SELECT occurrence FROM grants.completions WHERE deadline_id = $1 "
    "ORDER BY completed_at DESC, occurrence DESC LIMIT 1)) RETURNING occurrence";

// $1 id: a change that calendar clients must see (SEQUENCE + 1)
inline constexpr const char* kBumpRevision =
    "UPDATE grants.deadlines SET revision = revision + 1, updated_at = now() WHERE id = $1";

// $1 id -> the id when it became a tombstone
inline constexpr const char* kDeleteDeadline =
    "UPDATE grants.deadlines SET deleted_at = now(), updated_at = now(), revision = revision + 1 "
    "WHERE id = $1 AND deleted_at IS NULL RETURNING id";

// $1 owner or NULL -> the feed's rows: every occurrence due within the last 400 days or later,
// cancelled ones (tombstones, removed occurrences) included
inline constexpr const char* kCalendarRows =
    "SELECT o.deadline_id, o.occurrence, d.revision, extract(epoch FROM o.due_at)::bigint, "
    "extract(epoch FROM d.updated_at)::bigint, d.kind, d.owner, d.notes, "
    "o.internal_due_on::text, o.state, o.cancelled, g.title, g.programme, g.status, f.name "
    "FROM grants.deadline_occurrences() o JOIN grants.deadlines d ON d.id = o.deadline_id "
    "LEFT JOIN grants.grants g ON g.id = o.grant_id LEFT JOIN grants.funders f ON f.id = "
    "g.funder_id "
    "WHERE ($1::text IS NULL OR d.owner = $1) AND o.due_at > now() - interval '400 days' "
    "ORDER BY o.due_at, o.deadline_id, o.occurrence LIMIT 50000";

// ---- the scheduler

// $1 offsets int[], $2 overdue window in days -> decided, messages
inline constexpr const char* kEnqueueReminders =
    "SELECT decided, messages FROM grants.enqueue_reminders($1::integer[], $2::integer)";

// -> (state, window, count) of live occurrences
inline constexpr const char* kDeadlineCounts =
    "SELECT o.state, CASE WHEN o.due_at < now() + interval '7 days' THEN '7d' "
    "WHEN o.due_at < now() + interval '30 days' THEN '30d' ELSE 'later' END, count(*) "
    "FROM grants.deadline_occurrences() o WHERE NOT o.cancelled GROUP BY 1, 2";

// $1 days: tombstones older than this go
inline constexpr const char* kPurgeTombstones =
    "DELETE FROM grants.deadlines WHERE deleted_at < now() - make_interval(days => $1::integer)";

}  // namespace gabe::grants::sql

#undef GABE_UTC
