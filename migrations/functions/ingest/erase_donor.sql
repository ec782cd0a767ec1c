-- Kept for ingest.apply_events (a CRM's donor.erased) and older callers: the central erasure.
CREATE OR REPLACE FUNCTION ingest.erase_donor(p_donor bigint, p_actor text, p_reason text DEFAULT NULL)
RETURNS boolean LANGUAGE sql AS $$
  SELECT gabe.erase_donor(p_donor, 'ingest', p_actor, p_reason)
$$;

REVOKE ALL ON FUNCTION ingest.erase_donor(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.erase_donor(bigint, text, text) TO gabe_ingest;
