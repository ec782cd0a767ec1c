-- CiviCRM consent and recurring intervals (issue 12, items 2 and 3).
--
-- 1. The opt-in groups of a source: per channel (email, phone, sms) the CiviCRM group whose
--    members (status Added) have given consent (§7 UWG). A channel without a row has no
--    consent. One group per channel, and a group serves one channel only, so that a
--    GroupContact body names one channel. Set by `gabectl source add|set --optin-group`.
-- 2. Recurring gifts also run daily, weekly and fortnightly (CiviCRM's frequency_unit day and
--    week).

CREATE TABLE ingest.source_optin_groups (
  source    text NOT NULL REFERENCES ingest.sources (name) ON DELETE CASCADE,
  channel   text NOT NULL CHECK (channel IN ('email', 'phone', 'sms')),
  group_id  bigint NOT NULL CHECK (group_id > 0),
  PRIMARY KEY (source, channel),
  UNIQUE (source, group_id)
);
COMMENT ON TABLE ingest.source_optin_groups IS
  'Per source and opt-in channel, the CiviCRM group whose members (status Added) have consented';
GRANT SELECT ON ingest.source_optin_groups TO gabe_ingest;

ALTER TABLE donor.recurring DROP CONSTRAINT recurring_interval_check;
ALTER TABLE donor.recurring ADD CONSTRAINT recurring_interval_check
  CHECK (interval IN ('daily', 'weekly', 'fortnightly', 'monthly', 'quarterly', 'half_yearly', 'yearly'));
