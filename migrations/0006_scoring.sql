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
  -- What GET /v1/donors/{id}/scores shows beside the score, copied from the run and its scores
  -- row by the run's finishing step (in the transaction that writes the row), so that the answer
  -- is one index probe of this table: the run's as-of date and the top reasons (feature index,
  -- the feature's value, its contribution; parallel arrays as in scoring.scores).
  as_of           date,
  reason_features smallint[],
  reason_values   real[],
  reason_contribs double precision[],
  PRIMARY KEY (target, donor_id)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON scoring.current_scores TO gabe_scoring;
GRANT SELECT ON scoring.current_scores TO gabe_segments;

-- The scoring service's own tables. gabe_scoring reads behaviour (schema donor, granted in
-- 0002) and never pii; it writes only this schema.

-- Models: one row per training. The model itself is XGBoost's UBJSON (model_bytes, what
-- determinism is checked on); the card is the JSON GET /v1/models/{id} answers.
CREATE TABLE scoring.models (
  id                 bigserial PRIMARY KEY,
  target             text COLLATE "C" NOT NULL,   -- name, e.g. give_90d
  target_spec        jsonb NOT NULL,              -- {"kind", "horizon_days", "min_amount"}
  as_of              date NOT NULL,
  status             text NOT NULL CHECK (status IN ('training', 'ready', 'failed', 'active', 'retired')),
  params             jsonb NOT NULL,
  card               jsonb,                       -- the model card, once trained
  model_bytes        bytea,
  model_sha256       text,
  fairness_passed    boolean,                     -- the four-fifths rule, where it could be checked
  error              text,
  created_by         text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz,
  activated_at       timestamptz,
  activated_by       text,
  activation_reason  text,
  fairness_override  boolean NOT NULL DEFAULT false,
  retired_at         timestamptz
);
-- At most one active model per target.
CREATE UNIQUE INDEX models_one_active ON scoring.models (target) WHERE status = 'active';
CREATE INDEX models_target_idx ON scoring.models (target, id);

-- Runs: a scoring of every eligible donor by one model as of a date, in `shards` parts. The
-- partial unique index is the lock that keeps two runs of one target from overlapping.
CREATE TABLE scoring.runs (
  id                  bigserial PRIMARY KEY,
  model_id            bigint NOT NULL REFERENCES scoring.models (id),
  target              text COLLATE "C" NOT NULL,
  as_of               date NOT NULL,
  status              text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  trigger             text NOT NULL CHECK (trigger IN ('api', 'schedule', 'command')),
  shards              integer NOT NULL DEFAULT 1 CHECK (shards BETWEEN 1 AND 1024),
  shards_done         integer[] NOT NULL DEFAULT '{}',
  phase               text,                        -- features, scoring, writing, finishing
  donors_total        bigint NOT NULL DEFAULT 0,
  donors_done         bigint NOT NULL DEFAULT 0,
  donors_scored       bigint,
  excluded_erased     bigint NOT NULL DEFAULT 0,
  excluded_objection  bigint NOT NULL DEFAULT 0,
  decile_bounds       double precision[],          -- 9 descending scores: decile = 1 + #{b : score < b}
  histogram           jsonb,
  psi                 double precision,
  previous_run_id     bigint,
  error               text,
  created_by          text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  heartbeat_at        timestamptz,
  finished_at         timestamptz
);
CREATE UNIQUE INDEX runs_one_open_per_target ON scoring.runs (target) WHERE status IN ('queued', 'running');
CREATE INDEX runs_target_idx ON scoring.runs (target, id);

-- Scores: one row per run and donor, written with COPY. `features` are the model's inputs (as
-- float4, exactly what the model saw), so that every contribution can be recomputed; the top
-- three reasons are kept as parallel arrays (feature index into the model card's feature list).
-- run_id has no foreign key on purpose: only the scoring service writes this table, always for
-- the run it holds, and a foreign key costs a row-locking lookup of scoring.runs per score row
-- (a million per run; a quarter of the COPY's time in docs/benchmarks.md's scoring section).
CREATE TABLE scoring.scores (
  run_id          bigint NOT NULL,
  donor_id        bigint NOT NULL,
  score           double precision NOT NULL,
  margin          double precision NOT NULL,
  features        real[] NOT NULL,
  reason_features smallint[] NOT NULL,
  reason_contribs double precision[] NOT NULL,
  PRIMARY KEY (run_id, donor_id)
);
CREATE INDEX scores_donor_idx ON scoring.scores (donor_id);
-- A donor's current scores (GET /v1/donors/{id}/scores, erasure) without scanning every target.
CREATE INDEX current_scores_donor_idx ON scoring.current_scores (donor_id);

GRANT SELECT, INSERT, UPDATE ON scoring.models, scoring.runs TO gabe_scoring;
GRANT SELECT, INSERT, DELETE ON scoring.scores TO gabe_scoring;
GRANT USAGE ON SEQUENCE scoring.models_id_seq, scoring.runs_id_seq TO gabe_scoring;

INSERT INTO gabe.privacy_steps (schema_name, position, erase_function, export_function) VALUES
  ('scoring', 400, 'erase_donor_data', 'export_donor_data');
