-- Ingest's erase step: a tombstone per ref, the raw text of the events naming any of the
-- person's refs (processed and rejected alike) cleared, the ref mappings deleted.
CREATE OR REPLACE FUNCTION ingest.erase_donor_data(p_donor bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ingest.tombstones (ref_hash, donor_id)
    SELECT ingest.ref_hash(r.source, r.ref), p_donor FROM ingest.donor_refs r WHERE r.donor_id = p_donor
  ON CONFLICT (ref_hash) DO UPDATE SET donor_id = excluded.donor_id, erased_at = now();
  UPDATE ingest.inbox i SET raw = NULL, donor_ref = NULL
    FROM ingest.donor_refs r WHERE r.donor_id = p_donor AND i.source = r.source AND i.donor_ref = r.ref;
  DELETE FROM ingest.donor_refs WHERE donor_id = p_donor;
END
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION ingest.erase_donor_data(bigint) FROM PUBLIC;
