-- The hash a tombstone keeps of an erased (source, ref). STABLE, not IMMUTABLE: convert_to is
-- only STABLE, and a STABLE SQL function can be inlined (an IMMUTABLE one around a STABLE call
-- ran as a separate function call for every row). Nothing indexes the expression.
CREATE OR REPLACE FUNCTION ingest.ref_hash(p_source text, p_ref text) RETURNS bytea
  LANGUAGE sql STABLE STRICT PARALLEL SAFE
  AS $$ SELECT sha256(convert_to(p_source || E'\x1f' || p_ref, 'UTF8')) $$;

REVOKE ALL ON FUNCTION ingest.ref_hash(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.ref_hash(text, text) TO gabe_ingest;
