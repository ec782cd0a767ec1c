-- Segments: the donor rollups (segments.donor_facts) kept fresh by changed donor instead of
-- rebuilt for everyone whenever a gift was written. Writes to donor.gifts and donor.recurring,
-- erasures and merges record the donors they touch in segments.changed_donors (statement
-- triggers with transition tables: one set-based insert per statement, nothing for ingest to
-- call); segments.ensure_donor_facts() recomputes only those donors and re-ranks the RFM
-- quintiles (migrations/functions/segments/ensure_donor_facts.sql, docs/segments.md).
--
-- The rollups no longer hold day counts: days_since_* are computed by the rule from the day the
-- facts are as of (segments.facts_state.as_of), and each row records next_change_on, the first
-- day on which its 365-day window or its count of gifts received so far changes by the date
-- alone. So a new day recomputes only the donors whose window moved. Nor do they hold RFM
-- quintiles, which depend on every donor: facts_state keeps the quintile boundaries and the
-- rules compare with them, so a new gift rewrites one row, not every row whose rank moved.

-- The sequence-based staleness mark of 0007 is replaced by the changed-donor log.
DROP TRIGGER segments_facts_stale ON donor.gifts;
DROP TRIGGER segments_facts_stale ON donor.recurring;
DROP FUNCTION segments.note_source_change();
ALTER TABLE segments.facts_state DROP COLUMN change_mark;
DROP SEQUENCE segments.source_changes;

-- Every rollup is rebuilt in full at the next refresh (the columns change below).
TRUNCATE segments.donor_facts, segments.facts_state;
ALTER TABLE segments.donor_facts DROP COLUMN days_since_last_gift,
  DROP COLUMN days_since_first_gift,
  DROP COLUMN rfm_r, DROP COLUMN rfm_f, DROP COLUMN rfm_m,  -- from facts_state.rfm_bounds
  ADD COLUMN next_change_on date;  -- the rollup changes by the date alone on this day
-- The RFM quintile boundaries (recency, frequency, monetary: four each), when the last full
-- rebuild ran (GABE_SEGMENTS_FACTS_MAX_AGE) and how many donors the last call recomputed.
ALTER TABLE segments.facts_state
  ADD COLUMN full_built_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN rfm_bounds bigint[] NOT NULL DEFAULT '{}',
  ADD COLUMN recomputed bigint NOT NULL DEFAULT 0,
  ADD COLUMN mean_gift_cents float8 NOT NULL DEFAULT 0;  -- over all donors, for matching

-- How many rollup rows have each value, per RFM ranking ('r': the last gift's day as days
-- since 1900, 'f': the number of gifts (0 included: so the counts of 'f' add up to the rows),
-- 'm': the sum of gifts), kept up to date with the rows: the quintile boundaries come from
-- here, not from a pass over every donor. Erasing a donor's rollups subtracts them here too
-- (segments.erase_donor_data).
CREATE UNLOGGED TABLE segments.rfm_counts (
  metric  "char" NOT NULL CHECK (metric IN ('r', 'f', 'm')),
  value   bigint NOT NULL,
  n       bigint NOT NULL,
  PRIMARY KEY (metric, value)
);
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON segments.rfm_counts TO gabe_segments;

-- Donors whose rollups must be recomputed. Append-only for the writers (no key: concurrent
-- writers never wait for one another here, duplicates are harmless); emptied by
-- ensure_donor_facts(), which deletes the rows its snapshot sees, so a write committed later
-- stays for the next call. UNLOGGED like the rollups: after a crash all three tables are empty,
-- and an empty facts_state means a full rebuild.
CREATE UNLOGGED TABLE segments.changed_donors (
  donor_id  bigint NOT NULL
);
GRANT SELECT, DELETE ON segments.changed_donors TO gabe_segments;

-- Gifts and recurring commitments: the donors of the inserted and deleted rows, and of updated
-- rows whose rollup inputs changed (an upsert that repeats a gift records nothing). One
-- statement per written statement, over its transition tables. Transition tables allow one
-- event per trigger, hence three triggers per table on one function.
CREATE FUNCTION segments.note_changed_gifts() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO segments.changed_donors (donor_id)
    SELECT DISTINCT n.donor_id FROM new_rows n WHERE n.status = 'completed';
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO segments.changed_donors (donor_id)
    SELECT DISTINCT o.donor_id FROM old_rows o WHERE o.status = 'completed';
  ELSE
    INSERT INTO segments.changed_donors (donor_id)
    SELECT DISTINCT x.donor_id
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES (o.donor_id), (n.donor_id)) AS x(donor_id)
    WHERE (o.donor_id, o.amount_cents, o.received_on, o.status)
          IS DISTINCT FROM (n.donor_id, n.amount_cents, n.received_on, n.status)
      AND (o.status = 'completed' OR n.status = 'completed');
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION segments.note_changed_gifts() FROM PUBLIC;

CREATE FUNCTION segments.note_changed_recurring() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO segments.changed_donors (donor_id)
    SELECT DISTINCT n.donor_id FROM new_rows n WHERE n.status = 'active';
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO segments.changed_donors (donor_id)
    SELECT DISTINCT o.donor_id FROM old_rows o WHERE o.status = 'active';
  ELSE
    INSERT INTO segments.changed_donors (donor_id)
    SELECT DISTINCT x.donor_id
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES (o.donor_id), (n.donor_id)) AS x(donor_id)
    WHERE (o.donor_id, o.amount_cents, o.interval, o.status)
          IS DISTINCT FROM (n.donor_id, n.amount_cents, n.interval, n.status)
      AND (o.status = 'active' OR n.status = 'active');
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION segments.note_changed_recurring() FROM PUBLIC;

CREATE TRIGGER segments_changed_insert AFTER INSERT ON donor.gifts
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_changed_gifts();
CREATE TRIGGER segments_changed_update AFTER UPDATE ON donor.gifts
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_changed_gifts();
CREATE TRIGGER segments_changed_delete AFTER DELETE ON donor.gifts
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_changed_gifts();
CREATE TRIGGER segments_changed_insert AFTER INSERT ON donor.recurring
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_changed_recurring();
CREATE TRIGGER segments_changed_update AFTER UPDATE ON donor.recurring
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_changed_recurring();
CREATE TRIGGER segments_changed_delete AFTER DELETE ON donor.recurring
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_changed_recurring();

-- A TRUNCATE names no donors: the next call rebuilds everything.
CREATE FUNCTION segments.note_truncate() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM segments.facts_state;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION segments.note_truncate() FROM PUBLIC;
CREATE TRIGGER segments_changed_truncate AFTER TRUNCATE ON donor.gifts
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_truncate();
CREATE TRIGGER segments_changed_truncate AFTER TRUNCATE ON donor.recurring
  FOR EACH STATEMENT EXECUTE FUNCTION segments.note_truncate();

-- Erasures and merges: a donor who is erased or merged away leaves the rollups. A row trigger
-- whose WHEN is checked without calling any function: the CRM's ordinary donor updates (names,
-- addresses, tags) never reach it.
CREATE FUNCTION segments.note_changed_donor() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO segments.changed_donors (donor_id) VALUES (NEW.id);
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION segments.note_changed_donor() FROM PUBLIC;
CREATE TRIGGER segments_changed_donor AFTER UPDATE OF erased_at, merged_into ON donor.donors
  FOR EACH ROW
  WHEN (OLD.erased_at IS DISTINCT FROM NEW.erased_at OR OLD.merged_into IS DISTINCT FROM NEW.merged_into)
  EXECUTE FUNCTION segments.note_changed_donor();

-- Matching writes up to millions of assignments per run with COPY; the unique key's text
-- comparisons of campaign_ref cost most of it under the database's default collation. The refs
-- are identifiers, compared only for equality: byte order is all they need.
ALTER TABLE segments.assignments ALTER COLUMN campaign_ref TYPE text COLLATE "C";
