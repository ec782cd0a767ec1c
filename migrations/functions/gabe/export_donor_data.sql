-- The platform's own record of the person: the audit entries about them. The audit log is
-- append-only and holds donor ids only, so there is no erase step.
CREATE OR REPLACE FUNCTION gabe.export_donor_data(p_donor bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('audit', COALESCE((SELECT jsonb_agg(jsonb_build_object('at', l.at,
            'service', l.service, 'actor', l.actor, 'action', l.action, 'details', l.details) ORDER BY l.id)
            FROM gabe.audit_log l WHERE l.entity = 'donor:' || p_donor), '[]'::jsonb))
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION gabe.export_donor_data(bigint) FROM PUBLIC;
