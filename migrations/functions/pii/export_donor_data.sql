CREATE OR REPLACE FUNCTION pii.export_donor_data(p_donor bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('contact', (SELECT to_jsonb(p) FROM pii.donor_pii p WHERE p.donor_id = p_donor))
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION pii.export_donor_data(bigint) FROM PUBLIC;
