-- The RFM quintile (1-5) of a value, given the four boundaries b[1..4] of its ranking
-- (segments.ensure_donor_facts): 1 + the number of boundaries the value is above; a missing
-- boundary (no value ranks that low) counts as passed. NULL for a missing value.
CREATE OR REPLACE FUNCTION segments.quintile(p_value bigint, p_bounds bigint[])
RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_value IS NOT NULL THEN
    (1 + (p_bounds[1] IS NULL OR p_value > p_bounds[1])::integer
       + (p_bounds[2] IS NULL OR p_value > p_bounds[2])::integer
       + (p_bounds[3] IS NULL OR p_value > p_bounds[3])::integer
       + (p_bounds[4] IS NULL OR p_value > p_bounds[4])::integer)::smallint END
$$;

REVOKE ALL ON FUNCTION segments.quintile(bigint, bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION segments.quintile(bigint, bigint[]) TO gabe_segments;
COMMENT ON FUNCTION segments.quintile(bigint, bigint[]) IS
  'RFM quintile of a value from the four boundaries of its ranking.';
