-- A ref that stops resolving without erasing the donor it resolves to (a merged-away
-- duplicate the CRM deleted): tombstoned, and its raw events scrubbed.
CREATE OR REPLACE FUNCTION ingest.retire_ref(p_source text, p_ref text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ingest.tombstones (ref_hash, donor_id)
    SELECT ingest.ref_hash(r.source, r.ref), r.donor_id FROM ingest.donor_refs r
    WHERE r.source = p_source AND r.ref = p_ref
  ON CONFLICT (ref_hash) DO NOTHING;
  UPDATE ingest.inbox SET raw = NULL, donor_ref = NULL WHERE source = p_source AND donor_ref = p_ref;
  DELETE FROM ingest.donor_refs WHERE source = p_source AND ref = p_ref;
  UPDATE donor.donors SET ref = NULL, modified_at = now()
    WHERE source = p_source AND ref = p_ref AND merged_into IS NOT NULL;
END
$$;

REVOKE ALL ON FUNCTION ingest.retire_ref(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.retire_ref(text, text) TO gabe_ingest;
