-- Art. 17 for the segments schema: the person's memberships (current and past), matching
-- assignments and rollups go. Refresh and run totals stay (counts, no person in them).
CREATE OR REPLACE FUNCTION segments.erase_donor_data(p_donor bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM segments.memberships WHERE donor_id = p_donor;
  DELETE FROM segments.assignments WHERE donor_id = p_donor;
  -- The rollups, and their part of the RFM counts the quintile boundaries come from.
  WITH x AS (
    DELETE FROM segments.donor_facts WHERE donor_id = p_donor
    RETURNING gift_count, last_gift_on, gift_amount_total_cents AS total
  ), d AS (
    SELECT 'r'::"char" AS metric, (x.last_gift_on - DATE '1900-01-01')::bigint AS value
    FROM x WHERE x.gift_count > 0
    UNION ALL SELECT 'f', x.gift_count FROM x
    UNION ALL SELECT 'm', x.total FROM x WHERE x.gift_count > 0
  )
  UPDATE segments.rfm_counts c SET n = c.n - 1 FROM d WHERE c.metric = d.metric AND c.value = d.value;
END
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION segments.erase_donor_data(bigint) FROM PUBLIC;
