-- Segments (issue 9): rule-based segments with membership history, the donor rollups their
-- rules read, donor-to-campaign matching runs and their assignments. The service gabe-segments
-- owns schema segments; its functions are in migrations/functions/segments/.

CREATE SCHEMA segments;
REVOKE ALL ON SCHEMA segments FROM PUBLIC;
GRANT USAGE ON SCHEMA segments TO gabe_segments;

CREATE TABLE segments.segments (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL,
  description   text NOT NULL DEFAULT '',
  rule          jsonb NOT NULL,
  builtin       boolean NOT NULL DEFAULT false,  -- created here, read-only through the API
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  refreshed_at  timestamptz,
  members       bigint  -- after the last refresh
);
CREATE UNIQUE INDEX segments_name_idx ON segments.segments (lower(name));

-- One row per refresh: the history of a segment's size.
CREATE TABLE segments.refreshes (
  id           bigserial PRIMARY KEY,
  segment_id   bigint NOT NULL REFERENCES segments.segments (id) ON DELETE CASCADE,
  at           timestamptz NOT NULL DEFAULT now(),
  actor        text NOT NULL,
  facts_as_of  date NOT NULL,
  members      bigint NOT NULL DEFAULT 0,
  added        bigint NOT NULL DEFAULT 0,
  removed      bigint NOT NULL DEFAULT 0,
  duration_ms  bigint NOT NULL DEFAULT 0
);
CREATE INDEX refreshes_segment_idx ON segments.refreshes (segment_id, id);

-- Membership as intervals of refreshes: a donor joined in refresh added_in and left in
-- removed_in (NULL while a member). The members after refresh k are the rows with
-- added_in <= k and (removed_in IS NULL or removed_in > k), so every snapshot can be read back.
CREATE TABLE segments.memberships (
  segment_id  bigint NOT NULL REFERENCES segments.segments (id) ON DELETE CASCADE,
  donor_id    bigint NOT NULL,
  added_in    bigint NOT NULL,
  removed_in  bigint,
  PRIMARY KEY (segment_id, donor_id, added_in)
);
CREATE UNIQUE INDEX memberships_current_idx ON segments.memberships (segment_id, donor_id)
  WHERE removed_in IS NULL;
CREATE INDEX memberships_donor_idx ON segments.memberships (donor_id);

-- Donor rollups as of one day, rebuilt by segments.ensure_donor_facts() in one statement when
-- gifts or recurring commitments changed since, or the day changed. Derived data: UNLOGGED
-- (after a crash both tables are empty and the next refresh rebuilds them).
CREATE UNLOGGED TABLE segments.donor_facts (
  donor_id                 bigint PRIMARY KEY,
  gift_count               integer NOT NULL,
  gift_count_365d          integer NOT NULL,
  gift_amount_total_cents  bigint NOT NULL,
  gift_amount_365d_cents   bigint NOT NULL,
  largest_gift_cents       bigint,
  last_gift_amount_cents   bigint,
  first_gift_on            date,
  last_gift_on             date,
  days_since_last_gift     integer,
  days_since_first_gift    integer,
  recurring_active         boolean NOT NULL,
  recurring_monthly_cents  bigint NOT NULL,
  rfm_r                    smallint,
  rfm_f                    smallint,
  rfm_m                    smallint
);
CREATE UNLOGGED TABLE segments.facts_state (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  as_of        date NOT NULL,
  change_mark  bigint NOT NULL,  -- segments.source_changes when the build started
  built_at     timestamptz NOT NULL,
  donors       bigint NOT NULL,
  duration_ms  bigint NOT NULL
);

-- Every statement that writes gifts or recurring commitments advances this sequence, so that a
-- refresh sees in one cheap read whether the rollups are stale. A sequence takes no row lock:
-- concurrent writers never wait for each other here.
CREATE SEQUENCE segments.source_changes;
CREATE FUNCTION segments.note_source_change() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM nextval('segments.source_changes');
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION segments.note_source_change() FROM PUBLIC;
CREATE TRIGGER segments_facts_stale AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON donor.gifts
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_source_change();
CREATE TRIGGER segments_facts_stale AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON donor.recurring
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_source_change();

-- Matching: one run assigns donors to campaigns; each campaign of a run with its parameters
-- and totals; each assignment with its group and expected value.
CREATE TABLE segments.matching_runs (
  id                     bigserial PRIMARY KEY,
  created_at             timestamptz NOT NULL DEFAULT now(),
  created_by             text NOT NULL,
  assigned_on            date NOT NULL,
  request                jsonb NOT NULL,
  candidates             bigint NOT NULL DEFAULT 0,
  assigned               bigint NOT NULL DEFAULT 0,
  expected_value_cents   bigint NOT NULL DEFAULT 0,
  upper_bound_cents      bigint NOT NULL DEFAULT 0,
  duration_ms            bigint NOT NULL DEFAULT 0
);
CREATE TABLE segments.matching_campaigns (
  run_id                  bigint NOT NULL REFERENCES segments.matching_runs (id) ON DELETE CASCADE,
  campaign_ref            text NOT NULL,
  position                integer NOT NULL,
  target                  text NOT NULL,
  channel                 text NOT NULL CHECK (channel IN ('email', 'post', 'phone', 'sms')),
  capacity                bigint NOT NULL,
  cost_per_contact_cents  bigint NOT NULL,
  treatment               bigint NOT NULL DEFAULT 0,
  holdout                 bigint NOT NULL DEFAULT 0,
  expected_value_cents    bigint NOT NULL DEFAULT 0,
  appeals_sent_on         date,  -- set by record-appeals
  PRIMARY KEY (run_id, campaign_ref)
);
CREATE INDEX matching_campaigns_ref_idx ON segments.matching_campaigns (campaign_ref, run_id);
CREATE TABLE segments.assignments (
  id                    bigserial PRIMARY KEY,
  run_id                bigint NOT NULL,
  campaign_ref          text NOT NULL,
  donor_id              bigint NOT NULL,
  grp                   text NOT NULL CHECK (grp IN ('treatment', 'holdout')),
  score                 double precision NOT NULL,
  expected_gift_cents   bigint NOT NULL,
  expected_value_cents  bigint NOT NULL,
  UNIQUE (run_id, campaign_ref, donor_id),
  FOREIGN KEY (run_id, campaign_ref) REFERENCES segments.matching_campaigns ON DELETE CASCADE
);
CREATE INDEX assignments_donor_idx ON segments.assignments (donor_id);

-- gabe_segments: its own schema; reads donor, pii and scoring.current_scores (granted by 0002
-- and 0006); writes donor.appeals when a matched mailing is recorded as sent.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA segments TO gabe_segments;
GRANT TRUNCATE ON segments.donor_facts TO gabe_segments;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA segments TO gabe_segments;
GRANT SELECT ON segments.source_changes TO gabe_segments;
GRANT INSERT ON donor.appeals TO gabe_segments;
GRANT USAGE ON SEQUENCE donor.appeals_id_seq TO gabe_segments;

-- The built-in segments: RFM quintiles and lifecycle groups (docs/segments.md explains each).
-- Read-only through the API; refreshed like any other.
INSERT INTO segments.segments (name, description, rule, builtin, created_by)
SELECT format('RFM %s%s', letter, q),
       format('%s quintile %s of 5 among donors with completed gifts (5 = %s)', what, q, best),
       jsonb_build_object('field', field, 'op', '=', 'value', q),
       true, 'migration'
FROM (VALUES ('R', 'rfm_r', 'Recency', 'most recent last gift'),
             ('F', 'rfm_f', 'Frequency', 'most gifts'),
             ('M', 'rfm_m', 'Monetary', 'highest sum of gifts')) AS k(letter, field, what, best),
     generate_series(1, 5) AS q
ORDER BY letter DESC, q;

INSERT INTO segments.segments (name, description, rule, builtin, created_by) VALUES
  ('new', 'First completed gift in the last 365 days',
   '{"field": "days_since_first_gift", "op": "<=", "value": 364}', true, 'migration'),
  ('active', 'Gave in the last 365 days and first gave more than a year ago',
   '{"all": [{"field": "days_since_last_gift", "op": "<=", "value": 364},
             {"field": "days_since_first_gift", "op": ">=", "value": 365}]}', true, 'migration'),
  ('loyal', 'Active, and giving regularly: an active recurring gift or at least 5 gifts in all',
   '{"all": [{"field": "days_since_last_gift", "op": "<=", "value": 364},
             {"field": "days_since_first_gift", "op": ">=", "value": 365},
             {"any": [{"field": "recurring_active", "op": "=", "value": true},
                      {"field": "gift_count", "op": ">=", "value": 5}]}]}', true, 'migration'),
  ('at-risk', 'Last gift 7 to 12 months ago and no active recurring gift',
   '{"all": [{"field": "days_since_last_gift", "op": "between", "value": [181, 364]},
             {"field": "recurring_active", "op": "=", "value": false}]}', true, 'migration'),
  ('lapsed', 'Last gift 13 to 24 months ago (365 to 729 days)',
   '{"field": "days_since_last_gift", "op": "between", "value": [365, 729]}', true, 'migration'),
  ('deep-lapsed', 'Last gift 25 or more months ago (730 days or more)',
   '{"field": "days_since_last_gift", "op": ">=", "value": 730}', true, 'migration');

-- Memberships and assignments join the platform's erase and export steps.
INSERT INTO gabe.privacy_steps (schema_name, position, erase_function, export_function)
VALUES ('segments', 450, 'erase_donor_data', 'export_donor_data');
