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

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION donor.export_donor_data(bigint) FROM PUBLIC;
