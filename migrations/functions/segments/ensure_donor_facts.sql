DROP FUNCTION IF EXISTS segments.ensure_donor_facts(integer, boolean);
-- The donor rollups that segment rules and matching read (segments.donor_facts), as of today
-- in Europe/Berlin (or p_today), kept fresh by changed donor:
--
-- * full rebuild, in one INSERT ... SELECT over all gifts: the first time (facts_state empty:
--   after the migration that created or changed the table, after a crash, after a TRUNCATE of
--   the gifts), p_force, the day went backwards, the last full rebuild is older than
--   p_max_age_seconds (0: never), or more donors changed than a fifth of the rows;
-- * otherwise incremental: the donors in segments.changed_donors (written by the triggers of
--   migration 0009) and, on a new day, the donors whose next_change_on has come are recomputed
--   with the same statement restricted to them;
-- * nothing at all when no donor changed and the day is the same.
--
-- Returns the day the facts are as of, whether they were rebuilt in full, and how many donors
-- were recomputed. Concurrent callers wait for one another (advisory lock).
--
-- Rollups count completed gifts received on or before the day; "365d" means received on or
-- after the day - 364. RFM quintiles rank donors with at least one completed gift: quintile =
-- ceil(5 k / N), N their number, k the number whose value is at or below the donor's (equal
-- values share a quintile, 5 is the best). Every call stores the boundaries in
-- facts_state.rfm_bounds, computed exactly in integers: b[q] = the largest value with
-- 5 k <= q N (q = 1..4; -1 when there is none), and the rules compute quintile =
-- 1 + #{q : value > b[q]} = 1 + width_bucket(value - 1, b) (services/segments/rules.cpp). So a
-- moved boundary rewrites no row.
CREATE OR REPLACE FUNCTION segments.ensure_donor_facts(p_max_age_seconds integer DEFAULT 0,
                                                       p_force boolean DEFAULT false,
                                                       p_today date DEFAULT NULL)
RETURNS TABLE (as_of date, rebuilt boolean, recomputed bigint) LANGUAGE plpgsql AS $fn$
DECLARE
  v_today   date := COALESCE(p_today, (now() AT TIME ZONE 'Europe/Berlin')::date);
  v_state   segments.facts_state%ROWTYPE;
  v_start   timestamptz := clock_timestamp();
  v_full    boolean;
  v_ids     bigint[];
  v_rows    bigint;
  v_bounds  bigint[];
  v_mean    float8;
  v_nestloop text;
  v_hashjoin text;
  v_mergejoin text;
  -- The donors' rollups from the gifts and recurring commitments; %1$s, %2$s and %3$s restrict
  -- the gifts, the recurring commitments and the donors (empty for all), $1 is the day, $2 the
  -- donors.
  v_rows_sql constant text := $q$
  WITH g AS (
    SELECT gi.donor_id,
           (count(*) FILTER (WHERE gi.received_on <= $1))::integer AS gift_count,
           (count(*) FILTER (WHERE gi.received_on BETWEEN $1 - 364 AND $1))::integer AS gift_count_365d,
           COALESCE(sum(gi.amount_cents) FILTER (WHERE gi.received_on <= $1), 0)::bigint AS total,
           COALESCE(sum(gi.amount_cents) FILTER (WHERE gi.received_on BETWEEN $1 - 364 AND $1), 0)::bigint
             AS total_365d,
           max(gi.amount_cents) FILTER (WHERE gi.received_on <= $1) AS largest,
           -- the latest gift's amount without sorting each group: day and amount packed into
           -- one bigint (days since 1900 x 10^12 + cents; amounts stay below 10^12 cents), so
           -- of two gifts on the latest day the larger counts
           max((gi.received_on - DATE '1900-01-01')::bigint * 1000000000000 + gi.amount_cents)
             FILTER (WHERE gi.received_on <= $1) %% 1000000000000 AS last_amount,
           min(gi.received_on) FILTER (WHERE gi.received_on <= $1) AS first_on,
           max(gi.received_on) FILTER (WHERE gi.received_on <= $1) AS last_on,
           -- the first later day on which a gift leaves the 365-day window or a gift dated
           -- after the day starts to count
           least(min(gi.received_on) FILTER (WHERE gi.received_on BETWEEN $1 - 364 AND $1) + 365,
                 min(gi.received_on) FILTER (WHERE gi.received_on > $1)) AS next_change_on
    FROM donor.gifts gi
    WHERE gi.status = 'completed' %1$s
    GROUP BY gi.donor_id
  ), r AS (
    SELECT rc.donor_id,
           round(sum(CASE rc.interval WHEN 'monthly' THEN rc.amount_cents::numeric
                                      WHEN 'quarterly' THEN rc.amount_cents / 3.0
                                      WHEN 'half_yearly' THEN rc.amount_cents / 6.0
                                      ELSE rc.amount_cents / 12.0 END))::bigint AS monthly
    FROM donor.recurring rc
    WHERE rc.status = 'active' %2$s
    GROUP BY rc.donor_id
  )
  SELECT COALESCE(g.donor_id, r.donor_id) AS donor_id,
         COALESCE(g.gift_count, 0) AS gift_count,
         COALESCE(g.gift_count_365d, 0) AS gift_count_365d,
         COALESCE(g.total, 0) AS gift_amount_total_cents,
         COALESCE(g.total_365d, 0) AS gift_amount_365d_cents,
         g.largest AS largest_gift_cents, g.last_amount AS last_gift_amount_cents,
         g.first_on AS first_gift_on, g.last_on AS last_gift_on,
         r.donor_id IS NOT NULL AS recurring_active,
         COALESCE(r.monthly, 0) AS recurring_monthly_cents,
         g.next_change_on
  FROM g FULL JOIN r ON r.donor_id = g.donor_id
  JOIN donor.donors d ON d.id = COALESCE(g.donor_id, r.donor_id)
  WHERE d.erased_at IS NULL AND d.merged_into IS NULL %3$s
  $q$;
  -- The RFM counts (segments.rfm_counts) of a set of rollup rows %1$s (gift_count,
  -- last_gift_on, total) changed by %2$s: recency and monetary for donors with gifts, frequency
  -- for every row (0 for a donor with only a recurring gift: the number of rows).
  v_counts_sql constant text := $q$
  d AS (
    SELECT 'r'::"char" AS metric, (x.last_gift_on - DATE '1900-01-01')::bigint AS value
    FROM %1$s x WHERE x.gift_count > 0
    UNION ALL SELECT 'f', x.gift_count FROM %1$s x
    UNION ALL SELECT 'm', x.total FROM %1$s x WHERE x.gift_count > 0
  ), up AS (
    INSERT INTO segments.rfm_counts AS c (metric, value, n)
    SELECT d.metric, d.value, %2$s count(*) FROM d GROUP BY d.metric, d.value
    ON CONFLICT (metric, value) DO UPDATE SET n = c.n + excluded.n
  )$q$;
  -- From the counts: the number of rows, the mean completed gift over all donors (cents), and
  -- the four boundaries of each quintile (recency, frequency, monetary): 12 values, -1 for a
  -- boundary no value ranks at. A value's level is the smallest q with 5 k <= q N, so b[q] is
  -- the largest value of a level <= q.
  v_bounds_sql constant text := $q$
  WITH n AS (
    SELECT COALESCE(sum(c.n) FILTER (WHERE c.metric = 'f'), 0)::bigint AS rows,
           COALESCE(sum(c.n) FILTER (WHERE c.metric = 'f' AND c.value > 0), 0)::bigint AS n,
           COALESCE((sum(c.value * c.n) FILTER (WHERE c.metric = 'm'))::float8
                    / NULLIF((sum(c.value * c.n) FILTER (WHERE c.metric = 'f'))::bigint, 0), 0)
             AS mean
    FROM segments.rfm_counts c WHERE c.n > 0
  ), h AS (
    SELECT c.metric, c.value,
           (5 * (sum(c.n) OVER (PARTITION BY c.metric ORDER BY c.value))::bigint + n.n - 1)
             / NULLIF(n.n, 0) AS lvl
    FROM segments.rfm_counts c CROSS JOIN n
    WHERE c.n > 0 AND (c.metric <> 'f' OR c.value > 0)
  ), g AS (
    SELECT h.metric, h.lvl, max(h.value) AS top FROM h GROUP BY h.metric, h.lvl
  )
  SELECT n.rows, n.mean, ARRAY(
    SELECT COALESCE((SELECT max(g.top) FROM g WHERE g.metric = m.metric AND g.lvl <= m.q), -1)
    FROM unnest('{r,r,r,r,f,f,f,f,m,m,m,m}'::"char"[], '{1,2,3,4,1,2,3,4,1,2,3,4}'::int[])
      WITH ORDINALITY AS m(metric, q, i)
    ORDER BY m.i)
  FROM n
  $q$;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('segments.donor_facts'));
  SELECT * INTO v_state FROM segments.facts_state;
  v_full := NOT FOUND OR p_force OR v_state.as_of > v_today
            OR (p_max_age_seconds > 0
                AND v_state.full_built_at < clock_timestamp() - make_interval(secs => p_max_age_seconds));

  IF NOT v_full THEN
    IF v_state.as_of = v_today AND NOT EXISTS (SELECT 1 FROM segments.changed_donors) THEN
      RETURN QUERY SELECT v_state.as_of, false, 0::bigint;
      RETURN;
    END IF;
    -- The rows this snapshot sees go; a write committed later stays for the next call.
    WITH c AS (DELETE FROM segments.changed_donors RETURNING donor_id)
    SELECT array_agg(DISTINCT u.donor_id ORDER BY u.donor_id) INTO v_ids
    FROM (SELECT c.donor_id FROM c
          UNION ALL
          SELECT f.donor_id FROM segments.donor_facts f
          WHERE v_state.as_of < v_today AND f.next_change_on <= v_today) u;
    v_ids := COALESCE(v_ids, '{}');
    v_full := cardinality(v_ids) > greatest(v_state.donors / 5, 1000);
  END IF;

  IF v_full THEN
    DELETE FROM segments.changed_donors;
    TRUNCATE segments.donor_facts;
    -- Whole-table aggregates and joins: hash joins are always right here, and right after a
    -- bulk import (no statistics yet) the planner picked nested loops that took minutes.
    v_nestloop := current_setting('enable_nestloop');
    PERFORM set_config('enable_nestloop', 'off', true);
    EXECUTE format($q$
      INSERT INTO segments.donor_facts (donor_id, gift_count, gift_count_365d,
        gift_amount_total_cents, gift_amount_365d_cents, largest_gift_cents,
        last_gift_amount_cents, first_gift_on, last_gift_on, recurring_active,
        recurring_monthly_cents, next_change_on)
      %s$q$, format(v_rows_sql, '', '', '')) USING v_today;
    TRUNCATE segments.rfm_counts;
    EXECUTE format('WITH x AS (SELECT f.gift_count, f.last_gift_on, f.gift_amount_total_cents AS total '
                   'FROM segments.donor_facts f), %s SELECT 1',
                   format(v_counts_sql, 'x', '+'));
    PERFORM set_config('enable_nestloop', v_nestloop, true);
    ANALYZE segments.donor_facts;
    v_ids := NULL;
  ELSE
    -- Out with the donors' old rows and their RFM counts, in with the new ones. The old rows
    -- by their key: the planner would rather hash the whole table, which costs more than a few
    -- thousand index probes.
    v_hashjoin := current_setting('enable_hashjoin');
    v_mergejoin := current_setting('enable_mergejoin');
    PERFORM set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true);
    EXECUTE format('WITH x AS (DELETE FROM segments.donor_facts f USING unnest($1) AS i(id) '
                   'WHERE f.donor_id = i.id RETURNING f.gift_count, f.last_gift_on, '
                   'f.gift_amount_total_cents AS total), %s SELECT 1',
                   format(v_counts_sql, 'x', '-'))
      USING v_ids;
    PERFORM set_config('enable_hashjoin', v_hashjoin, true),
            set_config('enable_mergejoin', v_mergejoin, true);
    EXECUTE format($q$
      WITH x AS (
        INSERT INTO segments.donor_facts (donor_id, gift_count, gift_count_365d,
          gift_amount_total_cents, gift_amount_365d_cents, largest_gift_cents,
          last_gift_amount_cents, first_gift_on, last_gift_on, recurring_active,
          recurring_monthly_cents, next_change_on)
        %s
        RETURNING gift_count, last_gift_on, gift_amount_total_cents AS total
      ), %s SELECT 1$q$,
      format(v_rows_sql, 'AND gi.donor_id = ANY ($2)', 'AND rc.donor_id = ANY ($2)',
             'AND d.id = ANY ($2)'),
      format(v_counts_sql, 'x', '+'))
      USING v_today, v_ids;
    DELETE FROM segments.rfm_counts c WHERE c.n = 0;
  END IF;

  -- The quintile boundaries, from the counts (the quintiles themselves are computed by the
  -- rules from them, so no row is rewritten when a boundary moves).
  EXECUTE v_bounds_sql INTO v_rows, v_mean, v_bounds;

  INSERT INTO segments.facts_state AS s (singleton, as_of, built_at, donors, duration_ms,
                                         full_built_at, rfm_bounds, recomputed, mean_gift_cents)
  VALUES (true, v_today, clock_timestamp(), v_rows,
          (extract(epoch FROM clock_timestamp() - v_start) * 1000)::bigint,
          CASE WHEN v_full THEN clock_timestamp() ELSE v_state.full_built_at END, v_bounds,
          COALESCE(cardinality(v_ids), v_rows), v_mean)
  ON CONFLICT (singleton) DO UPDATE SET as_of = EXCLUDED.as_of, built_at = EXCLUDED.built_at,
    donors = EXCLUDED.donors, duration_ms = EXCLUDED.duration_ms,
    full_built_at = EXCLUDED.full_built_at, rfm_bounds = EXCLUDED.rfm_bounds,
    recomputed = EXCLUDED.recomputed, mean_gift_cents = EXCLUDED.mean_gift_cents;
  RETURN QUERY SELECT v_today, v_full, COALESCE(cardinality(v_ids), v_rows)::bigint;
END
$fn$;

REVOKE ALL ON FUNCTION segments.ensure_donor_facts(integer, boolean, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION segments.ensure_donor_facts(integer, boolean, date) TO gabe_segments;
COMMENT ON FUNCTION segments.ensure_donor_facts(integer, boolean, date) IS
  'Brings segments.donor_facts up to date (by changed donor, or in full); returns (as_of, rebuilt, recomputed).';
