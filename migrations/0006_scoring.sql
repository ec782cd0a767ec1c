-- Scoring (issue 8): models, runs and scores. This first version holds only the contract that
-- segments builds on; the scoring service's own tables join this file.
--
-- scoring.current_scores: per donor and target the score of the latest succeeded run of the
-- active model, kept by the scoring service when a run succeeds (one row per donor and target).
-- gabe-segments reads it for `score.<target>` and `decile.<target>` rule conditions and for
-- matching. Erased donors have no row (scoring's privacy step deletes them).

CREATE SCHEMA scoring;
REVOKE ALL ON SCHEMA scoring FROM PUBLIC;
GRANT USAGE ON SCHEMA scoring TO gabe_scoring, gabe_segments;

CREATE TABLE scoring.current_scores (
  target     text COLLATE "C" NOT NULL,  -- a target name: give_90d, lapse_180d, give_90d_min50
  donor_id   bigint NOT NULL,
  score      double precision NOT NULL CHECK (score >= 0 AND score <= 1),
  decile     smallint NOT NULL CHECK (decile BETWEEN 1 AND 10),  -- 1 = highest scores
  model_id   bigint NOT NULL,
  run_id     bigint NOT NULL,
  scored_at  timestamptz NOT NULL,
  PRIMARY KEY (target, donor_id)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON scoring.current_scores TO gabe_scoring;
GRANT SELECT ON scoring.current_scores TO gabe_segments;
