-- Art. 17: personal data and everything derived from it go; gifts stay, pseudonymised, for
-- the legal retention period; each ref leaves a hashed tombstone. Later schemas that add
-- derived per-donor data (scores, memberships, features) extend this function.
CREATE OR REPLACE FUNCTION ingest.erase_donor(p_donor bigint, p_actor text, p_reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_source text;
BEGIN
  SELECT d.source INTO v_source FROM donor.donors d WHERE d.id = p_donor AND d.erased_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO ingest.tombstones (ref_hash, donor_id)
    SELECT ingest.ref_hash(r.source, r.ref), p_donor FROM ingest.donor_refs r WHERE r.donor_id = p_donor
  ON CONFLICT (ref_hash) DO UPDATE SET donor_id = excluded.donor_id, erased_at = now();
  UPDATE ingest.inbox i SET raw = NULL, donor_ref = NULL
    FROM ingest.donor_refs r WHERE r.donor_id = p_donor AND i.source = r.source AND i.donor_ref = r.ref;
  DELETE FROM ingest.donor_refs WHERE donor_id = p_donor;
  DELETE FROM pii.donor_pii WHERE donor_id = p_donor;
  DELETE FROM donor.audit_attributes WHERE donor_id = p_donor;
  DELETE FROM donor.consents WHERE donor_id = p_donor;
  DELETE FROM donor.consent_history WHERE donor_id = p_donor;
  DELETE FROM donor.appeals WHERE donor_id = p_donor;
  -- Records merged into this one describe the same person.
  UPDATE donor.donors
    SET ref = NULL, language = NULL, country = NULL, tags = '{}', erased_at = now(), modified_at = now()
    WHERE id = p_donor OR merged_into = p_donor;
  PERFORM gabe.record_audit('ingest', p_actor, 'donor.erase', 'donor:' || p_donor,
                           CASE WHEN p_reason IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('reason', p_reason) END);
  RETURN true;
END
$$;

REVOKE ALL ON FUNCTION ingest.erase_donor(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.erase_donor(bigint, text, text) TO gabe_ingest;
