-- The behavioural data: what describes the person goes; the donor record and its gifts and
-- recurring commitments stay, pseudonymised (bookkeeping records), and so do the records
-- merged into it earlier (they describe the same person).
CREATE OR REPLACE FUNCTION donor.erase_donor_data(p_donor bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM donor.audit_attributes WHERE donor_id = p_donor;
  DELETE FROM donor.consents WHERE donor_id = p_donor;
  DELETE FROM donor.consent_history WHERE donor_id = p_donor;
  DELETE FROM donor.appeals WHERE donor_id = p_donor;
  UPDATE donor.donors
    SET ref = NULL, language = NULL, country = NULL, tags = '{}', erased_at = now(), modified_at = now()
    WHERE id = p_donor OR merged_into = p_donor;
END
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION donor.erase_donor_data(bigint) FROM PUBLIC;
