-- Moves everything of the merged refs' donors to the survivor; the old refs resolve to it.
CREATE OR REPLACE FUNCTION ingest.merge_donors(p_survivor bigint, p_source text, p_refs text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_old bigint;
  v_ref text;
BEGIN
  FOREACH v_ref IN ARRAY p_refs LOOP
    SELECT r.donor_id INTO v_old FROM ingest.donor_refs r WHERE r.source = p_source AND r.ref = v_ref;
    IF v_old IS NULL AND EXISTS (SELECT 1 FROM ingest.tombstones t WHERE t.ref_hash = ingest.ref_hash(p_source, v_ref)) THEN
      CONTINUE;  -- an erased person is not brought back by a merge
    END IF;
    IF v_old IS NULL THEN
      INSERT INTO ingest.donor_refs (source, ref, donor_id) VALUES (p_source, v_ref, p_survivor);
      CONTINUE;
    END IF;
    IF v_old = p_survivor THEN
      CONTINUE;
    END IF;
    UPDATE donor.gifts SET donor_id = p_survivor WHERE donor_id = v_old;
    UPDATE donor.recurring SET donor_id = p_survivor WHERE donor_id = v_old;
    INSERT INTO donor.appeals (source, campaign_ref, donor_id, sent_on, channel)
      SELECT a.source, a.campaign_ref, p_survivor, a.sent_on, a.channel FROM donor.appeals a
      WHERE a.donor_id = v_old ON CONFLICT DO NOTHING;
    DELETE FROM donor.appeals WHERE donor_id = v_old;
    -- Consent history moves; the survivor's current consent stays unless the merged one is newer.
    UPDATE donor.consent_history SET donor_id = p_survivor WHERE donor_id = v_old;
    INSERT INTO donor.consents AS c (donor_id, channel, granted, at, source)
      SELECT p_survivor, o.channel, o.granted, o.at, o.source FROM donor.consents o WHERE o.donor_id = v_old
    ON CONFLICT (donor_id, channel) DO UPDATE
      SET granted = excluded.granted, at = excluded.at, source = excluded.source
      WHERE c.at < excluded.at;
    DELETE FROM donor.consents WHERE donor_id = v_old;
    DELETE FROM pii.donor_pii WHERE donor_id = v_old;
    DELETE FROM donor.audit_attributes WHERE donor_id = v_old;
    UPDATE ingest.donor_refs SET donor_id = p_survivor WHERE donor_id = v_old;
    UPDATE donor.donors SET merged_into = p_survivor, modified_at = now() WHERE id = v_old;
    UPDATE donor.donors SET merged_into = p_survivor WHERE merged_into = v_old;
    UPDATE donor.donors d SET profiling_objection = EXISTS (
        SELECT 1 FROM donor.consents c WHERE c.donor_id = p_survivor AND c.channel = 'profiling' AND NOT c.granted),
      modified_at = now()
    WHERE d.id = p_survivor;
  END LOOP;
  -- Anything that still landed on a record merged into the survivor (applied concurrently
  -- with an earlier merge, e.g. by another replica) moves too: repeating a merge sweeps up.
  UPDATE donor.gifts g SET donor_id = p_survivor
    FROM donor.donors d WHERE d.merged_into = p_survivor AND g.donor_id = d.id;
  UPDATE donor.recurring r SET donor_id = p_survivor
    FROM donor.donors d WHERE d.merged_into = p_survivor AND r.donor_id = d.id;
END
$$;

REVOKE ALL ON FUNCTION ingest.merge_donors(bigint, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.merge_donors(bigint, text, text[]) TO gabe_ingest;
