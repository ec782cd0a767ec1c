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

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION ingest.export_donor_data(bigint) FROM PUBLIC;
