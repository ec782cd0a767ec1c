-- The contact data.
CREATE OR REPLACE FUNCTION pii.erase_donor_data(p_donor bigint)
RETURNS void LANGUAGE sql AS $$
  DELETE FROM pii.donor_pii WHERE donor_id = p_donor
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION pii.erase_donor_data(bigint) FROM PUBLIC;
