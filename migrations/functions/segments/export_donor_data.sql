-- Art. 15/20 for the segments schema: the person's segment memberships (with when they joined
-- and left) and matching assignments.
CREATE OR REPLACE FUNCTION segments.export_donor_data(p_donor bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'segment_memberships', COALESCE((
      SELECT jsonb_agg(jsonb_build_object(
               'segment_id', s.id, 'segment', s.name,
               'added_at', ra.at, 'removed_at', rr.at, 'member', m.removed_in IS NULL)
             ORDER BY s.id, m.added_in)
      FROM segments.memberships m
      JOIN segments.segments s ON s.id = m.segment_id
      LEFT JOIN segments.refreshes ra ON ra.id = m.added_in
      LEFT JOIN segments.refreshes rr ON rr.id = m.removed_in
      WHERE m.donor_id = p_donor), '[]'::jsonb),
    'matching_assignments', COALESCE((
      SELECT jsonb_agg(jsonb_build_object(
               'run_id', a.run_id, 'campaign_ref', a.campaign_ref, 'group', a.grp,
               'assigned_on', r.assigned_on, 'score', a.score,
               'expected_value', to_char(a.expected_value_cents / 100.0, 'FM999999999990.00'))
             ORDER BY a.run_id, a.campaign_ref)
      FROM segments.assignments a
      JOIN segments.matching_runs r ON r.id = a.run_id
      WHERE a.donor_id = p_donor), '[]'::jsonb))
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION segments.export_donor_data(bigint) FROM PUBLIC;
