-- Ingestion: donors and their behaviour (schema donor), personal data apart (schema pii),
-- webhook sources, the raw-event inbox, ref resolution and erasure tombstones (schema ingest).
-- Its functions (ingest.apply_events and the rest) are in migrations/functions/ingest/.
--
-- Refs, sources and event ids are opaque identifiers: ordering them by a natural language's
-- rules has no meaning, and the "C" collation compares them with memcmp instead of strcoll.

CREATE SCHEMA donor;
CREATE SCHEMA pii;
CREATE SCHEMA ingest;
REVOKE ALL ON SCHEMA donor, pii, ingest FROM PUBLIC;

-- Behavioural, pseudonymous data. Readable by scoring and segments.
CREATE TABLE donor.donors (
  id                   bigserial PRIMARY KEY,
  source               text COLLATE "C" NOT NULL,
  ref                  text COLLATE "C",        -- NULL once erased
  language             text,
  country              text,
  tags                 text[] NOT NULL DEFAULT '{}',
  profiling_objection  boolean NOT NULL DEFAULT false,
  is_placeholder       boolean NOT NULL DEFAULT true,
  merged_into          bigint REFERENCES donor.donors (id),
  updated_at           timestamptz NOT NULL DEFAULT '-infinity',  -- source's time of the data
  created_at           timestamptz NOT NULL DEFAULT now(),
  modified_at          timestamptz NOT NULL DEFAULT now(),         -- our time of the last change
  erased_at            timestamptz,
  UNIQUE (source, ref)
);

CREATE TABLE donor.consents (
  donor_id  bigint NOT NULL REFERENCES donor.donors (id),
  channel   text NOT NULL CHECK (channel IN ('email', 'post', 'phone', 'sms', 'profiling')),
  granted   boolean NOT NULL,
  at        timestamptz NOT NULL,
  source    text NOT NULL,
  PRIMARY KEY (donor_id, channel)
);

CREATE TABLE donor.consent_history (
  id        bigserial PRIMARY KEY,
  donor_id  bigint NOT NULL REFERENCES donor.donors (id),
  channel   text NOT NULL,
  granted   boolean NOT NULL,
  at        timestamptz NOT NULL,
  source    text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_history_donor_idx ON donor.consent_history (donor_id);

CREATE TABLE donor.campaigns (
  id                bigserial PRIMARY KEY,
  source            text NOT NULL,
  ref               text NOT NULL,
  name              text,
  channel           text,
  starts_on         date,
  ends_on           date,
  goal_cents        bigint,
  cost_per_contact_cents bigint,
  updated_at        timestamptz NOT NULL DEFAULT '-infinity',
  UNIQUE (source, ref)
);

CREATE TABLE donor.recurring (
  id             bigserial PRIMARY KEY,
  source         text NOT NULL,
  ref            text NOT NULL,
  donor_id       bigint NOT NULL REFERENCES donor.donors (id),
  amount_cents   bigint NOT NULL CHECK (amount_cents > 0),
  currency       text NOT NULL,
  interval       text NOT NULL CHECK (interval IN ('monthly', 'quarterly', 'half_yearly', 'yearly')),
  status         text NOT NULL CHECK (status IN ('active', 'paused', 'cancelled', 'lapsed')),
  started_on     date,
  cancelled_on   date,
  cancel_reason  text,
  updated_at     timestamptz NOT NULL,
  UNIQUE (source, ref)
);
CREATE INDEX recurring_donor_idx ON donor.recurring (donor_id);

CREATE TABLE donor.gifts (
  id             bigserial PRIMARY KEY,
  source         text COLLATE "C" NOT NULL,
  ref            text COLLATE "C" NOT NULL,
  donor_id       bigint NOT NULL,  -- no foreign key: see donors_no_delete below
  amount_cents   bigint NOT NULL CHECK (amount_cents > 0),
  currency       text NOT NULL,
  received_on    date NOT NULL,
  campaign_ref   text,
  channel        text,
  fund           text,
  recurring_ref  text,
  status         text NOT NULL CHECK (status IN ('completed', 'pending', 'failed', 'refunded', 'cancelled')),
  updated_at     timestamptz NOT NULL,
  UNIQUE (source, ref)
);
CREATE INDEX gifts_donor_idx ON donor.gifts (donor_id, received_on);

CREATE TABLE donor.appeals (
  id            bigserial PRIMARY KEY,
  source        text NOT NULL,
  campaign_ref  text NOT NULL,
  donor_id      bigint NOT NULL REFERENCES donor.donors (id),
  sent_on       date NOT NULL,
  channel       text,
  UNIQUE (source, campaign_ref, donor_id, sent_on)
);
CREATE INDEX appeals_donor_idx ON donor.appeals (donor_id, sent_on);

-- Optional attributes for the fairness report only: never a model feature.
CREATE TABLE donor.audit_attributes (
  donor_id  bigint PRIMARY KEY REFERENCES donor.donors (id),
  gender    text CHECK (gender IN ('f', 'm', 'd', 'u')),
  age_band  text CHECK (age_band IN ('<30', '30-44', '45-59', '60-74', '75+'))
);

-- Personal identifying data. Only ingest and segments may read it.
CREATE TABLE pii.donor_pii (
  donor_id           bigint PRIMARY KEY REFERENCES donor.donors (id),
  first_name         text,
  last_name          text,
  organization_name  text,
  email              text,
  phone              text,
  street             text,
  postal_code        text,
  city               text
);

-- Webhook sources and their signing secrets (needed in clear to verify HMACs; readable by
-- the ingest role only).
CREATE TABLE ingest.sources (
  name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  adapter     text NOT NULL CHECK (adapter IN ('generic', 'civicrm')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ingest.source_secrets (
  id          bigserial PRIMARY KEY,
  source      text NOT NULL REFERENCES ingest.sources (name),
  secret      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);

-- Every received event, raw, so that a mapping fix can be replayed.
CREATE TABLE ingest.inbox (
  id            bigserial PRIMARY KEY,
  source        text COLLATE "C" NOT NULL,
  event_id      text COLLATE "C" NOT NULL,
  type          text,
  adapter       text NOT NULL DEFAULT 'generic',  -- how raw is read on replay: generic, civicrm, import
  donor_ref     text COLLATE "C",
  occurred_at   timestamptz,
  received_at   timestamptz NOT NULL DEFAULT now(),
  raw           text,           -- NULL once the person it names has been erased
  status        text NOT NULL CHECK (status IN ('processed', 'rejected')),
  error         text,
  attempts      integer NOT NULL DEFAULT 1,
  UNIQUE (source, event_id)
);
CREATE INDEX inbox_rejected_idx ON ingest.inbox (id) WHERE status = 'rejected';
CREATE INDEX inbox_donor_ref_idx ON ingest.inbox (source, donor_ref);

-- Every ref that resolves to a donor: its own ref and, after merges, the merged ones.
CREATE TABLE ingest.donor_refs (
  source    text COLLATE "C" NOT NULL,
  ref       text COLLATE "C" NOT NULL,
  donor_id  bigint NOT NULL REFERENCES donor.donors (id),
  PRIMARY KEY (source, ref)
);
CREATE INDEX donor_refs_donor_idx ON ingest.donor_refs (donor_id);

-- Erased refs, kept only as a hash: a gift for them lands on the pseudonymous erased
-- record, and only a donor.upserted that grants consent starts a fresh profile.
CREATE TABLE ingest.tombstones (
  ref_hash  bytea PRIMARY KEY,
  donor_id  bigint NOT NULL REFERENCES donor.donors (id),
  erased_at timestamptz NOT NULL DEFAULT now()
);

-- Donor rows are never deleted (erasure pseudonymises them in place; merged records stay as
-- forwarding rows), and donor_id on a gift only ever comes from ingest.donor_refs inside
-- ingest.apply_events or from a merge. A foreign key from donor.gifts would double the cost of
-- writing a gift; this trigger keeps the invariant it would rely on: no donor row is deleted.
-- (A trigger function stays with its CREATE TRIGGER: numbered migrations run before the
-- function files, see migrations/functions/README.md.)
CREATE FUNCTION donor.forbid_donor_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'donor rows are never deleted (erasure pseudonymises them)'
    USING ERRCODE = 'restrict_violation';
END
$$;
REVOKE ALL ON FUNCTION donor.forbid_donor_delete() FROM PUBLIC;
CREATE TRIGGER donors_no_delete BEFORE DELETE OR TRUNCATE ON donor.donors
  FOR EACH STATEMENT EXECUTE FUNCTION donor.forbid_donor_delete();

-- Grants. Scoring reads behaviour only; segments also reads PII for consented exports.
GRANT USAGE ON SCHEMA donor, pii, ingest TO gabe_ingest;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA donor, pii, ingest TO gabe_ingest;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA donor, pii, ingest TO gabe_ingest;

GRANT USAGE ON SCHEMA donor TO gabe_scoring, gabe_segments;
GRANT SELECT ON ALL TABLES IN SCHEMA donor TO gabe_scoring, gabe_segments;
GRANT USAGE ON SCHEMA pii TO gabe_segments;
GRANT SELECT ON pii.donor_pii TO gabe_segments;
