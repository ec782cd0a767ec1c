-- Art. 15/20, for every schema: one JSON object of the sections every registered export step
-- returns, merged (a section name given by two steps is an error, not an overwrite). NULL when
-- the donor does not exist.
CREATE OR REPLACE FUNCTION gabe.export_donor(p_donor bigint)
RETURNS jsonb LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_step record;
  v_doc jsonb;
  v_part jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM donor.donors d WHERE d.id = p_donor) THEN
    RETURN NULL;
  END IF;
  v_doc := jsonb_build_object('exported_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
  FOR v_step IN
    SELECT s.schema_name, s.export_function FROM gabe.privacy_steps s
    WHERE s.export_function IS NOT NULL ORDER BY s.position
  LOOP
    EXECUTE format('SELECT %I.%I($1)', v_step.schema_name, v_step.export_function)
      INTO v_part USING p_donor;
    IF v_part IS NULL THEN
      CONTINUE;
    END IF;
    IF jsonb_typeof(v_part) <> 'object' THEN
      RAISE EXCEPTION '%.export_donor_data must return a JSON object', v_step.schema_name
        USING ERRCODE = 'data_exception';
    END IF;
    IF v_doc ?| ARRAY(SELECT jsonb_object_keys(v_part)) THEN
      RAISE EXCEPTION '%.export_donor_data returns a section another step returns already', v_step.schema_name
        USING ERRCODE = 'unique_violation';
    END IF;
    v_doc := v_doc || v_part;
  END LOOP;
  RETURN v_doc;
END
$$;

REVOKE ALL ON FUNCTION gabe.export_donor(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gabe.export_donor(bigint) TO gabe_privacy;
