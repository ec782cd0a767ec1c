-- Scoring's erase step: every score and reason of the person, in every run, and the current
-- score segments read. Models keep no per-donor data.
CREATE OR REPLACE FUNCTION scoring.erase_donor_data(p_donor bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM scoring.scores WHERE donor_id = p_donor;
  DELETE FROM scoring.current_scores WHERE donor_id = p_donor;
END
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION scoring.erase_donor_data(bigint) FROM PUBLIC;
