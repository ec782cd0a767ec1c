-- Art. 17, for every schema: locks the donor, runs every registered erase step in position
-- order and writes one audit entry (in the calling service's audit list, p_service). Returns false (and does nothing) when the donor does not
-- exist or is erased already. A step that raises aborts the caller's transaction: nothing of
-- the erasure stays.
CREATE OR REPLACE FUNCTION gabe.erase_donor(p_donor bigint, p_service text, p_actor text,
                                            p_reason text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_step record;
BEGIN
  -- The donor row is the person's identity in every schema; its lock serialises erasures.
  PERFORM 1 FROM donor.donors d WHERE d.id = p_donor AND d.erased_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  FOR v_step IN
    SELECT s.schema_name, s.erase_function FROM gabe.privacy_steps s
    WHERE s.erase_function IS NOT NULL ORDER BY s.position
  LOOP
    EXECUTE format('SELECT %I.%I($1)', v_step.schema_name, v_step.erase_function) USING p_donor;
  END LOOP;
  PERFORM gabe.record_audit(p_service, p_actor, 'donor.erase', 'donor:' || p_donor,
          CASE WHEN p_reason IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('reason', p_reason) END);
  RETURN true;
END
$$;

REVOKE ALL ON FUNCTION gabe.erase_donor(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gabe.erase_donor(bigint, text, text, text) TO gabe_privacy;
