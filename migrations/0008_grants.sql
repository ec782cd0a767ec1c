-- Grants (issue 10): funders, grants with their status history, deadlines with recurrence,
-- completions and the reminders decided so far; and the shared outbox of signed webhooks
-- (schema outbox), which gabe-grants is the first service to use.
--
-- Nothing here is about donors: funders are foundations and public bodies, owners are staff
-- initials or names. No privacy step is registered (docs/privacy.md).

CREATE SCHEMA grants;
REVOKE ALL ON SCHEMA grants FROM PUBLIC;
GRANT USAGE ON SCHEMA grants TO gabe_grants;

CREATE TABLE grants.funders (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind        text NOT NULL CHECK (kind IN ('foundation', 'public', 'lottery', 'corporate', 'eu', 'other')),
  website     text,
  notes       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE grants.grants (
  id                      bigserial PRIMARY KEY,
  funder_id               bigint NOT NULL REFERENCES grants.funders (id),
  title                   text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  programme               text,
  status                  text NOT NULL CHECK (status IN ('prospect', 'loi', 'drafting', 'submitted',
                                                          'awarded', 'rejected', 'reporting', 'closed')),
  amount_requested_cents  bigint CHECK (amount_requested_cents >= 0),
  amount_awarded_cents    bigint CHECK (amount_awarded_cents >= 0),
  amount_received_cents   bigint CHECK (amount_received_cents >= 0),
  owner                   text,
  period_start            date,
  period_end              date,
  notes                   text,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  CHECK (period_end IS NULL OR period_start IS NULL OR period_end >= period_start)
);
CREATE INDEX grants_funder ON grants.grants (funder_id);

-- Every status a grant has had: the first row (from_status NULL) is its creation.
CREATE TABLE grants.status_history (
  id           bigserial PRIMARY KEY,
  grant_id     bigint NOT NULL REFERENCES grants.grants (id) ON DELETE CASCADE,
  from_status  text,
  to_status    text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  actor        text NOT NULL
);
CREATE INDEX status_history_grant ON grants.status_history (grant_id, id);

-- A deadline and its recurrence. local_due is the wall-clock time in Europe/Berlin of the first
-- occurrence (due_on D: D 23:59); occurrence k (1, 2, …) is local_due + (k-1)·every_months
-- months, converted by PostgreSQL's zone rules. A deleted deadline stays as a tombstone
-- (deleted_at) so that calendar feeds can cancel its events; the scheduler removes tombstones
-- after GABE_GRANTS_TOMBSTONE_DAYS. revision is the iCalendar SEQUENCE, bumped on each change;
-- peak_occurrences is the most occurrences it ever had, so that those a change removed are
-- published as cancelled.
CREATE TABLE grants.deadlines (
  id                bigserial PRIMARY KEY,
  grant_id          bigint REFERENCES grants.grants (id) ON DELETE SET NULL,
  kind              text NOT NULL CHECK (kind IN ('loi', 'application', 'interim_report', 'final_report',
                                                  'financial_report', 'other')),
  first_due_at      timestamptz NOT NULL,  -- the first occurrence as given (exact in any DST fold)
  local_due         timestamp NOT NULL,
  due_on            date,        -- set when the deadline was given as a day
  internal_due_on   date,        -- the team's own draft date for the first occurrence
  owner             text,
  notes             text,
  every_months      integer CHECK (every_months BETWEEN 1 AND 120),
  until_on          date,
  revision          integer NOT NULL DEFAULT 1,
  peak_occurrences  integer NOT NULL DEFAULT 1,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  deleted_at        timestamptz,
  CHECK ((every_months IS NULL) = (until_on IS NULL))
);
CREATE INDEX deadlines_grant ON grants.deadlines (grant_id);

CREATE TABLE grants.completions (
  deadline_id   bigint NOT NULL REFERENCES grants.deadlines (id) ON DELETE CASCADE,
  occurrence    integer NOT NULL CHECK (occurrence >= 1),
  completed_at  timestamptz NOT NULL DEFAULT now(),
  actor         text NOT NULL,
  PRIMARY KEY (deadline_id, occurrence)
);

-- The reminder levels decided per occurrence and due time (offset_days 0 = overdue). A moved
-- due time starts over; the row is written in the same transaction as the outbox messages.
CREATE TABLE grants.reminders (
  deadline_id  bigint NOT NULL REFERENCES grants.deadlines (id) ON DELETE CASCADE,
  occurrence   integer NOT NULL,
  due_at       timestamptz NOT NULL,
  offset_days  integer NOT NULL CHECK (offset_days >= 0),
  decided_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (deadline_id, occurrence, due_at, offset_days)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA grants TO gabe_grants;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA grants TO gabe_grants;

-- The outbox of signed webhooks (shared/src/outbox.cpp): subscriptions per service and the
-- messages to deliver. A message is written in the transaction that decided to send it and
-- delivered by the service's dispatcher (claimed with FOR UPDATE SKIP LOCKED and a lease).
-- The secret must be usable to sign, so it is stored as issued ("whsec_…"); only the roles of
-- sending services may read it. A service that starts sending grants its role here in its own
-- migration.
CREATE SCHEMA outbox;
REVOKE ALL ON SCHEMA outbox FROM PUBLIC;
GRANT USAGE ON SCHEMA outbox TO gabe_grants;

CREATE TABLE outbox.subscriptions (
  id          bigserial PRIMARY KEY,
  service     text NOT NULL,
  url         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
  events      text[] NOT NULL,
  secret      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  deleted_at  timestamptz
);
CREATE INDEX subscriptions_service ON outbox.subscriptions (service) WHERE deleted_at IS NULL;

CREATE TABLE outbox.messages (
  id               bigserial PRIMARY KEY,
  service          text NOT NULL,
  subscription_id  bigint NOT NULL REFERENCES outbox.subscriptions (id),
  event_type       text NOT NULL,
  webhook_id       text NOT NULL UNIQUE,  -- the webhook-id header, the same on every attempt
  body             text NOT NULL,         -- the exact bytes signed and sent
  state            text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'delivered', 'dead', 'cancelled')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  lease_until      timestamptz,
  last_status      integer,               -- HTTP status of the last attempt (0: no answer)
  last_error       text,                  -- what failed, without the answer's content
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz
);
CREATE INDEX messages_due ON outbox.messages (service, next_attempt_at) WHERE state = 'pending';

GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA outbox TO gabe_grants;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA outbox TO gabe_grants;
