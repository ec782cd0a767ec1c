-- Platform: service roles, API tokens and the append-only audit log shared by all services.

-- One role per service. They are created without LOGIN; a deployment that gives each
-- service its own GABE_DATABASE_URL grants LOGIN and a password (./run up does this).
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['gabe_ingest', 'gabe_scoring', 'gabe_segments', 'gabe_grants'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$$;

CREATE SCHEMA gabe;
REVOKE ALL ON SCHEMA gabe FROM PUBLIC;
GRANT USAGE ON SCHEMA gabe TO gabe_ingest, gabe_scoring, gabe_segments, gabe_grants;

CREATE TABLE gabe.api_tokens (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  role        text NOT NULL CHECK (role IN ('admin', 'fundraiser', 'viewer')),
  token_hash  bytea NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
GRANT SELECT ON gabe.api_tokens TO gabe_ingest, gabe_scoring, gabe_segments, gabe_grants;

CREATE TABLE gabe.audit_log (
  id       bigserial PRIMARY KEY,
  at       timestamptz NOT NULL DEFAULT now(),
  service  text NOT NULL,
  actor    text NOT NULL,
  action   text NOT NULL,
  entity   text NOT NULL,
  details  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_entity_idx ON gabe.audit_log (entity, id);
CREATE INDEX audit_log_action_idx ON gabe.audit_log (action, id);

-- Append-only even for the owner: a trigger refuses UPDATE, DELETE and TRUNCATE.
CREATE FUNCTION gabe.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'gabe.audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON gabe.audit_log
  FOR EACH ROW EXECUTE FUNCTION gabe.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON gabe.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION gabe.audit_log_is_append_only();

GRANT SELECT, INSERT ON gabe.audit_log TO gabe_ingest, gabe_scoring, gabe_segments, gabe_grants;
GRANT USAGE ON SEQUENCE gabe.audit_log_id_seq TO gabe_ingest, gabe_scoring, gabe_segments, gabe_grants;
