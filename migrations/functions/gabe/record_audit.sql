-- The one writer of gabe.audit_log rows: the C++ helper gabe::record_audit
-- (shared/src/service.cpp) and SQL functions (ingest.erase_donor) both call it, so an entry has
-- one shape whoever writes it. SECURITY INVOKER: the caller's own INSERT right on the table
-- (granted to every service role in 0001_platform.sql) is what lets it write.
CREATE OR REPLACE FUNCTION gabe.record_audit(p_service text, p_actor text, p_action text,
                                             p_entity text, p_details jsonb DEFAULT '{}')
RETURNS void LANGUAGE sql AS $$
  INSERT INTO gabe.audit_log (service, actor, action, entity, details)
  VALUES (p_service, p_actor, p_action, p_entity, COALESCE(p_details, '{}'));
$$;

REVOKE ALL ON FUNCTION gabe.record_audit(text, text, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gabe.record_audit(text, text, text, text, jsonb)
  TO gabe_ingest, gabe_scoring, gabe_segments, gabe_grants;
