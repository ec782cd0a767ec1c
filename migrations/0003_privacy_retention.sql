-- Privacy rights every schema joins on its own, and the retention of the raw-event inbox.
--
-- 1. A registry of privacy steps (gabe.privacy_steps). Each schema that holds data about a
--    donor registers its own <schema>.erase_donor_data(bigint) and/or
--    <schema>.export_donor_data(bigint) -> jsonb (function files in migrations/functions/). The central
--    gabe.erase_donor and gabe.export_donor run every registered step, in position order, in
--    the caller's transaction. No service edits another's function: scoring, segments and
--    grants register their steps in their own migrations.
-- 2. Retention: an index that lets the purge find old inbox rows without scanning the inbox.
--
-- Privileges (see docs/privacy.md): the central functions are SECURITY DEFINER, owned by the
-- migration owner, with a pinned search_path; the steps are plain functions nobody else may
-- execute. A service gets the right to run privacy rights through the role gabe_privacy, i.e.
-- EXECUTE on the two central functions only: it needs no privilege on another service's
-- tables, and it cannot run one step alone (an erasure without its tombstones, its audit entry
-- or the other services' steps).

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gabe_privacy') THEN
    CREATE ROLE gabe_privacy NOLOGIN;
  END IF;
END
$$;
GRANT gabe_privacy TO gabe_ingest;

-- One row per schema, written by that schema's numbered migration (an INSERT like the one at the
-- end of this file; the step functions themselves live in function files, applied after the
-- numbered migrations, so a registration cannot check them: erase and export fail loudly on a
-- registered step that does not exist, and a SQL test checks every registered step). The central
-- functions build their calls from these identifiers with format('%I.%I'), never from input.
-- Names, not OIDs: a step that is dropped and created again (a changed signature) stays
-- registered, and one that is dropped makes every erasure and export fail instead of
-- silently skipping it.
CREATE TABLE gabe.privacy_steps (
  schema_name      name PRIMARY KEY,
  position         integer NOT NULL UNIQUE,
  erase_function   name,  -- <schema_name>.<erase_function>(bigint)
  export_function  name,  -- <schema_name>.<export_function>(bigint) -> jsonb
  registered_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (erase_function IS NOT NULL OR export_function IS NOT NULL)
);
REVOKE ALL ON gabe.privacy_steps FROM PUBLIC;
GRANT SELECT ON gabe.privacy_steps TO gabe_ingest, gabe_scoring, gabe_segments, gabe_grants;

-- Retention: the purge takes the oldest rows first (ingest.purge_inbox_batch). received_at only
-- grows (now() at insert, and at a rejected event's redelivery), so the index is appended at
-- its right edge like the primary key.
CREATE INDEX inbox_received_idx ON ingest.inbox (received_at);

-- Ingest's schemas register their steps; the platform's own exports the audit entries.
INSERT INTO gabe.privacy_steps (schema_name, position, erase_function, export_function) VALUES
  ('ingest', 100, 'erase_donor_data', 'export_donor_data'),
  ('pii', 200, 'erase_donor_data', 'export_donor_data'),
  ('donor', 300, 'erase_donor_data', 'export_donor_data'),
  ('gabe', 900, NULL, 'export_donor_data');
