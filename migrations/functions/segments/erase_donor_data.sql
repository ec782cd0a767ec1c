-- Art. 17 for the segments schema: the person's memberships (current and past), matching
-- assignments and rollups go. Refresh and run totals stay (counts, no person in them).
CREATE OR REPLACE FUNCTION segments.erase_donor_data(p_donor bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM segments.memberships WHERE donor_id = p_donor;
  DELETE FROM segments.assignments WHERE donor_id = p_donor;
  DELETE FROM segments.donor_facts WHERE donor_id = p_donor;
END
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION segments.erase_donor_data(bigint) FROM PUBLIC;
