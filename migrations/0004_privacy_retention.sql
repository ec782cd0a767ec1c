-- Privacy rights every schema joins on its own, and the retention of the raw-event inbox.
--
-- 1. A registry of privacy steps (gabe.privacy_steps). Each schema that holds data about a
--    donor registers its own <schema>.erase_donor_data(bigint) and/or
--    <schema>.export_donor_data(bigint) -> jsonb with gabe.register_privacy_step. The central
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

-- One row per schema, written only by migrations (gabe.register_privacy_step). The central
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

-- Functions, one per block (each is replaced as a whole when it changes).

-- Registers (or moves) the privacy steps of a schema: <schema>.erase_donor_data(bigint) and
-- <schema>.export_donor_data(bigint) returning jsonb, whichever exist (at least one must).
-- Steps run as the owner of gabe.erase_donor/export_donor: EXECUTE on them is revoked from
-- everyone else. Called by migrations only.
CREATE OR REPLACE FUNCTION gabe.register_privacy_step(p_schema name, p_position integer)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_erase regprocedure := to_regprocedure(format('%I.erase_donor_data(bigint)', p_schema));
  v_export regprocedure := to_regprocedure(format('%I.export_donor_data(bigint)', p_schema));
BEGIN
  IF v_erase IS NULL AND v_export IS NULL THEN
    RAISE EXCEPTION 'schema % has neither erase_donor_data(bigint) nor export_donor_data(bigint)', p_schema
      USING ERRCODE = 'undefined_function';
  END IF;
  IF v_export IS NOT NULL AND (SELECT p.prorettype FROM pg_proc p WHERE p.oid = v_export) <> 'jsonb'::regtype THEN
    RAISE EXCEPTION '%.export_donor_data(bigint) must return jsonb', p_schema
      USING ERRCODE = 'invalid_function_definition';
  END IF;
  IF v_erase IS NOT NULL THEN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', v_erase);
  END IF;
  IF v_export IS NOT NULL THEN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', v_export);
  END IF;
  INSERT INTO gabe.privacy_steps (schema_name, position, erase_function, export_function)
  VALUES (p_schema, p_position, CASE WHEN v_erase IS NOT NULL THEN 'erase_donor_data' END,
          CASE WHEN v_export IS NOT NULL THEN 'export_donor_data' END)
  ON CONFLICT (schema_name) DO UPDATE
    SET position = excluded.position, erase_function = excluded.erase_function,
        export_function = excluded.export_function, registered_at = now();
END
$$;

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
  INSERT INTO gabe.audit_log (service, actor, action, entity, details)
  VALUES (p_service, p_actor, 'donor.erase', 'donor:' || p_donor,
          CASE WHEN p_reason IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('reason', p_reason) END);
  RETURN true;
END
$$;

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

-- Kept for ingest.apply_events (a CRM's donor.erased) and older callers: the central erasure.
CREATE OR REPLACE FUNCTION ingest.erase_donor(p_donor bigint, p_actor text, p_reason text DEFAULT NULL)
RETURNS boolean LANGUAGE sql AS $$
  SELECT gabe.erase_donor(p_donor, 'ingest', p_actor, p_reason)
$$;

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

-- Ingest's export step: the other refs that resolve to the person, and the raw events still
-- held that name any of the person's refs (their own data, as the CRM sent it).
CREATE OR REPLACE FUNCTION ingest.export_donor_data(p_donor bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'other_refs', COALESCE((SELECT jsonb_agg(jsonb_build_object('source', r.source, 'ref', r.ref) ORDER BY r.ref)
        FROM ingest.donor_refs r JOIN donor.donors d ON d.id = r.donor_id
        WHERE r.donor_id = p_donor AND r.ref IS DISTINCT FROM d.ref), '[]'::jsonb),
    'inbox_events', COALESCE((SELECT jsonb_agg(jsonb_build_object('id', i.id, 'source', i.source,
          'event_id', i.event_id, 'type', i.type, 'status', i.status,
          'received_at', to_char(i.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
          'raw', i.raw) ORDER BY i.id)
        FROM ingest.donor_refs r JOIN ingest.inbox i ON i.source = r.source AND i.donor_ref = r.ref
        WHERE r.donor_id = p_donor), '[]'::jsonb))
$$;

-- The contact data.
CREATE OR REPLACE FUNCTION pii.erase_donor_data(p_donor bigint)
RETURNS void LANGUAGE sql AS $$
  DELETE FROM pii.donor_pii WHERE donor_id = p_donor
$$;

CREATE OR REPLACE FUNCTION pii.export_donor_data(p_donor bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('contact', (SELECT to_jsonb(p) FROM pii.donor_pii p WHERE p.donor_id = p_donor))
$$;

-- The behavioural data: what describes the person goes; the donor record and its gifts and
-- recurring commitments stay, pseudonymised (bookkeeping records), and so do the records
-- merged into it earlier (they describe the same person).
CREATE OR REPLACE FUNCTION donor.erase_donor_data(p_donor bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM donor.audit_attributes WHERE donor_id = p_donor;
  DELETE FROM donor.consents WHERE donor_id = p_donor;
  DELETE FROM donor.consent_history WHERE donor_id = p_donor;
  DELETE FROM donor.appeals WHERE donor_id = p_donor;
  UPDATE donor.donors
    SET ref = NULL, language = NULL, country = NULL, tags = '{}', erased_at = now(), modified_at = now()
    WHERE id = p_donor OR merged_into = p_donor;
END
$$;

CREATE OR REPLACE FUNCTION donor.export_donor_data(p_donor bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'donor', (SELECT jsonb_build_object('id', d.id, 'source', d.source, 'ref', d.ref, 'language', d.language,
              'country', d.country, 'tags', d.tags, 'profiling_objection', d.profiling_objection,
              'merged_into', d.merged_into, 'erased', d.erased_at IS NOT NULL,
              'created_at', d.created_at, 'updated_at', CASE WHEN isfinite(d.updated_at) THEN d.updated_at END)
            FROM donor.donors d WHERE d.id = p_donor),
    'audit_attributes', (SELECT jsonb_build_object('gender', a.gender, 'age_band', a.age_band)
            FROM donor.audit_attributes a WHERE a.donor_id = p_donor),
    'consent', COALESCE((SELECT jsonb_agg(jsonb_build_object('channel', c.channel, 'granted', c.granted,
            'at', c.at, 'source', c.source) ORDER BY c.channel)
            FROM donor.consents c WHERE c.donor_id = p_donor), '[]'::jsonb),
    'consent_history', COALESCE((SELECT jsonb_agg(jsonb_build_object('channel', h.channel, 'granted', h.granted,
            'at', h.at, 'source', h.source, 'recorded_at', h.recorded_at) ORDER BY h.id)
            FROM donor.consent_history h WHERE h.donor_id = p_donor), '[]'::jsonb),
    'gifts', COALESCE((SELECT jsonb_agg(jsonb_build_object('source', g.source, 'ref', g.ref,
            'amount', to_char(g.amount_cents / 100.0, 'FM999999999990.00'), 'currency', g.currency,
            'received_on', g.received_on, 'campaign_ref', g.campaign_ref, 'channel', g.channel,
            'fund', g.fund, 'recurring_ref', g.recurring_ref, 'status', g.status) ORDER BY g.received_on, g.id)
            FROM donor.gifts g WHERE g.donor_id = p_donor), '[]'::jsonb),
    'recurring', COALESCE((SELECT jsonb_agg(jsonb_build_object('source', r.source, 'ref', r.ref,
            'amount', to_char(r.amount_cents / 100.0, 'FM999999999990.00'), 'currency', r.currency,
            'interval', r.interval, 'status', r.status, 'started_on', r.started_on,
            'cancelled_on', r.cancelled_on, 'cancel_reason', r.cancel_reason) ORDER BY r.id)
            FROM donor.recurring r WHERE r.donor_id = p_donor), '[]'::jsonb),
    'appeals', COALESCE((SELECT jsonb_agg(jsonb_build_object('campaign_ref', a.campaign_ref, 'sent_on', a.sent_on,
            'channel', a.channel) ORDER BY a.sent_on, a.id)
            FROM donor.appeals a WHERE a.donor_id = p_donor), '[]'::jsonb))
$$;

-- The platform's own record of the person: the audit entries about them. The audit log is
-- append-only and holds donor ids only, so there is no erase step.
CREATE OR REPLACE FUNCTION gabe.export_donor_data(p_donor bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('audit', COALESCE((SELECT jsonb_agg(jsonb_build_object('at', l.at,
            'service', l.service, 'actor', l.actor, 'action', l.action, 'details', l.details) ORDER BY l.id)
            FROM gabe.audit_log l WHERE l.entity = 'donor:' || p_donor), '[]'::jsonb))
$$;

-- One purge batch of the raw-event inbox: up to p_limit rows received before p_before, oldest
-- first, skipping rows another transaction holds (a webhook's redelivery, a concurrent purge).
-- Returns how many rows of each status went.
CREATE OR REPLACE FUNCTION ingest.purge_inbox_batch(p_before timestamptz, p_limit integer)
RETURNS TABLE (status text, purged bigint) LANGUAGE sql AS $$
  WITH victims AS (
    SELECT i.id FROM ingest.inbox i
    WHERE i.received_at < p_before
    ORDER BY i.received_at
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  ), gone AS (
    DELETE FROM ingest.inbox i USING victims v WHERE i.id = v.id RETURNING i.status
  )
  SELECT g.status, count(*) FROM gone g GROUP BY g.status
$$;

-- Registrations and privileges.
REVOKE EXECUTE ON FUNCTION gabe.register_privacy_step(name, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION gabe.erase_donor(bigint, text, text, text), gabe.export_donor(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gabe.erase_donor(bigint, text, text, text), gabe.export_donor(bigint) TO gabe_privacy;
REVOKE EXECUTE ON FUNCTION ingest.purge_inbox_batch(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.purge_inbox_batch(timestamptz, integer) TO gabe_ingest;
SELECT gabe.register_privacy_step('ingest', 100);
SELECT gabe.register_privacy_step('pii', 200);
SELECT gabe.register_privacy_step('donor', 300);
SELECT gabe.register_privacy_step('gabe', 900);
