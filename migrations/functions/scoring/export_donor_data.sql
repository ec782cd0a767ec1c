-- Scoring's export step: the person's scores, with the model, run, as-of date and the top
-- reasons (feature names from the model card), newest run first.
CREATE OR REPLACE FUNCTION scoring.export_donor_data(p_donor bigint)
RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('scores', COALESCE((
    SELECT jsonb_agg(jsonb_build_object(
             'target', r.target, 'model_id', r.model_id, 'run_id', r.id, 'as_of', r.as_of,
             'score', s.score,
             'decile', CASE WHEN r.decile_bounds IS NOT NULL THEN
                 1 + (SELECT count(*) FROM unnest(r.decile_bounds) b WHERE s.score < b) END,
             'reasons', (SELECT jsonb_agg(jsonb_build_object(
                             'feature', m.card -> 'features' ->> f.idx::int,
                             'contribution', s.reason_contribs[f.ord]) ORDER BY f.ord)
                         FROM unnest(s.reason_features) WITH ORDINALITY f(idx, ord)),
             -- the feature values the model saw for the person (Art. 15: data about them)
             'features', (SELECT jsonb_object_agg(m.card -> 'features' ->> (v.ord - 1)::int,
                                                  CASE WHEN v.val = 'NaN'::real THEN NULL
                                                       ELSE v.val END)
                          FROM unnest(s.features) WITH ORDINALITY v(val, ord)))
           ORDER BY r.id DESC)
    FROM scoring.scores s JOIN scoring.runs r ON r.id = s.run_id
    JOIN scoring.models m ON m.id = r.model_id
    WHERE s.donor_id = p_donor), '[]'::jsonb))
$$;

-- A privacy step (gabe.privacy_steps): only gabe.erase_donor/export_donor, as their owner, run it.
REVOKE ALL ON FUNCTION scoring.export_donor_data(bigint) FROM PUBLIC;
