// The outbox's SQL (schema outbox, migrations/0008_grants.sql and functions/outbox/), named for
// what each statement does.
#pragma once

namespace gabe::sql::outbox {

// $1 service, $2 url, $3 events text[], $4 secret, $5 actor -> id, created_at
inline constexpr const char* kInsertSubscription = R"sql(
INSERT INTO outbox.subscriptions (service, url, events, secret, created_by)
VALUES ($1, $2, $3::text[], $4, $5)
RETURNING id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
)sql";

// $1 service, $2 id -> the id, when a live subscription was deleted
inline constexpr const char* kDeleteSubscription = R"sql(
UPDATE outbox.subscriptions SET deleted_at = now()
WHERE service = $1 AND id = $2 AND deleted_at IS NULL
RETURNING id
)sql";

// $1 subscription id: its undelivered messages will never go out.
inline constexpr const char* kCancelMessages = R"sql(
UPDATE outbox.messages SET state = 'cancelled', lease_until = NULL
WHERE subscription_id = $1 AND state = 'pending'
)sql";

// One subscription's JSON (never its secret), with its delivery counts. Shared by the list
// and the single read.
#define GABE_SUBSCRIPTION_JSON                                                                 \
  "json_build_object('id', s.id, 'url', s.url, 'events', s.events, "                           \
  "'created_at', to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
  "'pending', (SELECT count(*) FROM outbox.messages m WHERE m.subscription_id = s.id "         \
  "AND m.state = 'pending'), "                                                                 \
  "'dead_letters', (SELECT count(*) FROM outbox.messages m WHERE m.subscription_id = s.id "    \
  "AND m.state = 'dead'))::text"

// $1 service, $2 after id or NULL, $3 limit -> (id, JSON text)
inline constexpr const char* kListSubscriptions =
    "SELECT s.id, " GABE_SUBSCRIPTION_JSON
    " FROM outbox.subscriptions s WHERE s.service = $1 AND s.deleted_at IS NULL"
    " AND ($2::bigint IS NULL OR s.id > $2) ORDER BY s.id LIMIT $3";

// $1 service, $2 id -> JSON text
inline constexpr const char* kSubscriptionById =
    "SELECT " GABE_SUBSCRIPTION_JSON
    " FROM outbox.subscriptions s WHERE s.service = $1 AND s.id = $2 AND s.deleted_at IS NULL";

#undef GABE_SUBSCRIPTION_JSON

// $1 service, $2 types text[], $3 keys text[], $4 data jsonb[] -> messages written
inline constexpr const char* kEnqueue =
    "SELECT outbox.enqueue($1, $2::text[], $3::text[], $4::jsonb[])";

// $1 service, $2 batch size, $3 lease in ms -> the claimed messages with where they go. Rows
// another dispatcher holds (locked, or leased and not yet expired) are skipped.
inline constexpr const char* kClaimMessages = R"sql(
UPDATE outbox.messages m
   SET lease_until = now() + $3 * interval '1 millisecond', attempts = m.attempts + 1
  FROM (SELECT id FROM outbox.messages
         WHERE service = $1 AND state = 'pending' AND next_attempt_at <= now()
           AND (lease_until IS NULL OR lease_until < now())
         ORDER BY next_attempt_at, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED) c,
       outbox.subscriptions s
 WHERE m.id = c.id AND s.id = m.subscription_id
RETURNING m.id, m.webhook_id, m.body, s.url, s.secret, m.attempts
)sql";

// $1 id, $2 status: acknowledged, never sent again.
inline constexpr const char* kMarkDelivered = R"sql(
UPDATE outbox.messages
   SET state = 'delivered', delivered_at = now(), lease_until = NULL, last_status = $2,
       last_error = NULL
 WHERE id = $1 AND state = 'pending'
)sql";

// $1 id, $2 status (0: none), $3 error or NULL, $4 backoff ms, $5 dead-letter age in seconds
// -> the new state: pending (retried after the backoff) or dead.
inline constexpr const char* kMarkFailed = R"sql(
UPDATE outbox.messages
   SET state = CASE WHEN now() - created_at >= $5 * interval '1 second' THEN 'dead' ELSE 'pending' END,
       next_attempt_at = now() + $4 * interval '1 millisecond', lease_until = NULL,
       last_status = $2, last_error = $3
 WHERE id = $1 AND state = 'pending'
RETURNING state
)sql";

}  // namespace gabe::sql::outbox
