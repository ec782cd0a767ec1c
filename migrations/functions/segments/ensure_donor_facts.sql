-- The donor rollups that segment rules and matching read (segments.donor_facts), as of today
-- in Europe/Berlin. Rebuilt in one statement when they are stale: built for another day, gifts
-- or recurring commitments written since (segments.source_changes moved), older than
-- p_max_age_seconds, or p_force. Returns the day they are as of and whether they were rebuilt.
-- Concurrent callers wait for one another (advisory lock), so one rebuild serves them all.
--
-- Rollups count completed gifts received on or before the day; "365d" means received on or
-- after the day - 364. RFM quintiles rank donors with at least one completed gift:
-- ceil(5 * cume_dist()), so that equal values share a quintile and 5 is the best (rounded to
-- 9 places first: 5 * 0.6 is 3.0000000000000004 in floating point, and 3/5 is quintile 3).
CREATE OR REPLACE FUNCTION segments.ensure_donor_facts(p_max_age_seconds integer DEFAULT 600,
                                                       p_force boolean DEFAULT false)
RETURNS TABLE (as_of date, rebuilt boolean) LANGUAGE plpgsql
-- Whole-table aggregates and joins: hash joins are always right here, and right after a bulk
-- import (no statistics yet, reltuples = -1) the planner picked nested loops that took minutes
-- for 10,000 donors (0.3 s with hash joins).
SET enable_nestloop = off AS $$
DECLARE
  v_today  date := (now() AT TIME ZONE 'Europe/Berlin')::date;
  v_mark   bigint;
  v_state  segments.facts_state%ROWTYPE;
  v_start  timestamptz := clock_timestamp();
  v_rows   bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('segments.donor_facts'));
  SELECT s.last_value INTO v_mark FROM segments.source_changes s;
  SELECT * INTO v_state FROM segments.facts_state;
  IF FOUND AND NOT p_force AND v_state.as_of = v_today AND v_state.change_mark = v_mark
     AND v_state.built_at > clock_timestamp() - make_interval(secs => p_max_age_seconds) THEN
    RETURN QUERY SELECT v_state.as_of, false;
    RETURN;
  END IF;

  TRUNCATE segments.donor_facts;
  INSERT INTO segments.donor_facts
  WITH g AS (
    SELECT gi.donor_id,
           count(*)::integer AS gift_count,
           (count(*) FILTER (WHERE gi.received_on >= v_today - 364))::integer AS gift_count_365d,
           sum(gi.amount_cents)::bigint AS total,
           COALESCE(sum(gi.amount_cents) FILTER (WHERE gi.received_on >= v_today - 364), 0)::bigint
             AS total_365d,
           max(gi.amount_cents) AS largest,
           -- the latest gift's amount without sorting each group: day and amount packed into
           -- one bigint (days since 1900 x 10^12 + cents; amounts stay below 10^12 cents), so
           -- of two gifts on the latest day the larger counts
           max((gi.received_on - DATE '1900-01-01')::bigint * 1000000000000 + gi.amount_cents)
             % 1000000000000 AS last_amount,
           min(gi.received_on) AS first_on,
           max(gi.received_on) AS last_on
    FROM donor.gifts gi
    WHERE gi.status = 'completed' AND gi.received_on <= v_today
    GROUP BY gi.donor_id
  ), r AS (
    SELECT rc.donor_id,
           round(sum(CASE rc.interval WHEN 'monthly' THEN rc.amount_cents::numeric
                                      WHEN 'quarterly' THEN rc.amount_cents / 3.0
                                      WHEN 'half_yearly' THEN rc.amount_cents / 6.0
                                      ELSE rc.amount_cents / 12.0 END))::bigint AS monthly
    FROM donor.recurring rc
    WHERE rc.status = 'active'
    GROUP BY rc.donor_id
  ), f AS (
    SELECT COALESCE(g.donor_id, r.donor_id) AS donor_id,
           COALESCE(g.gift_count, 0) AS gift_count,
           COALESCE(g.gift_count_365d, 0) AS gift_count_365d,
           COALESCE(g.total, 0) AS total,
           COALESCE(g.total_365d, 0) AS total_365d,
           g.largest, g.last_amount, g.first_on, g.last_on,
           r.donor_id IS NOT NULL AS recurring_active,
           COALESCE(r.monthly, 0) AS monthly
    FROM g FULL JOIN r ON r.donor_id = g.donor_id
  )
  SELECT f.donor_id, f.gift_count, f.gift_count_365d, f.total, f.total_365d, f.largest,
         f.last_amount, f.first_on, f.last_on, v_today - f.last_on, v_today - f.first_on,
         f.recurring_active, f.monthly,
         CASE WHEN f.gift_count > 0 THEN ceil(round((5 * cume_dist() OVER (
           PARTITION BY f.gift_count > 0 ORDER BY f.last_on))::numeric, 9))::smallint END,
         CASE WHEN f.gift_count > 0 THEN ceil(round((5 * cume_dist() OVER (
           PARTITION BY f.gift_count > 0 ORDER BY f.gift_count))::numeric, 9))::smallint END,
         CASE WHEN f.gift_count > 0 THEN ceil(round((5 * cume_dist() OVER (
           PARTITION BY f.gift_count > 0 ORDER BY f.total))::numeric, 9))::smallint END
  FROM f JOIN donor.donors d ON d.id = f.donor_id
  WHERE d.erased_at IS NULL AND d.merged_into IS NULL;
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  ANALYZE segments.donor_facts;

  INSERT INTO segments.facts_state AS s (singleton, as_of, change_mark, built_at, donors, duration_ms)
  VALUES (true, v_today, v_mark, clock_timestamp(), v_rows,
          (extract(epoch FROM clock_timestamp() - v_start) * 1000)::bigint)
  ON CONFLICT (singleton) DO UPDATE SET as_of = EXCLUDED.as_of, change_mark = EXCLUDED.change_mark,
    built_at = EXCLUDED.built_at, donors = EXCLUDED.donors, duration_ms = EXCLUDED.duration_ms;
  RETURN QUERY SELECT v_today, true;
END
$$;

REVOKE ALL ON FUNCTION segments.ensure_donor_facts(integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION segments.ensure_donor_facts(integer, boolean) TO gabe_segments;
COMMENT ON FUNCTION segments.ensure_donor_facts(integer, boolean) IS
  'Rebuilds segments.donor_facts when stale; returns (as_of, rebuilt).';
