-- The CiviCRM pull connector (issue 12, item 1; spec/api.md "CiviCRM connector (pull)").
--
-- 1. ingest.source_pull: a source that gabe-ingest fetches itself: the site's APIv4 REST base
--    and its API key. The key is needed in clear (it is sent as X-Civi-Auth), so it is kept
--    like the webhook secrets: in schema ingest, which no other service role can use.
--    Written by `gabectl source add|set` (the migrating owner), read by gabe_ingest.
-- 2. ingest.sync_state: one row per pull source: where the running pass is (so that a sync
--    killed half-way resumes there), the cursors of the incremental reads, what was asked
--    for with POST /v1/sources/{name}/sync, and the last success and error. Its row is
--    inserted with the pull source by `gabectl source add|set` (the migrating owner);
--    gabe_ingest only reads and updates it.
-- 3. ingest.sync_seen: the ids a full reconciliation has read so far, per entity: what
--    CiviCRM no longer returns at its end was deleted there for good.

CREATE TABLE ingest.source_pull (
  source      text PRIMARY KEY REFERENCES ingest.sources (name) ON DELETE CASCADE,
  url         text NOT NULL CHECK (url ~ '^https?://'),
  api_key     text NOT NULL CHECK (api_key <> ''),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ingest.source_pull IS
  'Sources that gabe-ingest fetches from CiviCRM APIv4: REST base and API key (readable by gabe_ingest only)';
GRANT SELECT ON ingest.source_pull TO gabe_ingest;

CREATE TABLE ingest.sync_state (
  source          text PRIMARY KEY REFERENCES ingest.source_pull (source) ON DELETE CASCADE,
  -- The pass under way: 'full' (backfill or reconciliation) or 'incremental', NULL when idle;
  -- step is the index of its current read, after_id the last CiviCRM id of that read applied;
  -- pass_started_at when it started (GET /v1/sources/{name}: running_since).
  pass            text CHECK (pass IN ('full', 'incremental')),
  step            integer NOT NULL DEFAULT 0,
  after_id        bigint NOT NULL DEFAULT 0,
  pass_started_at timestamptz,
  -- Incremental cursors: per entity the newest modification time read (CiviCRM local time,
  -- 'YYYY-MM-DD HH:MM:SS'), the highest contribution id and the newest merge activity id.
  cursors         jsonb NOT NULL DEFAULT '{}',
  -- The cursors the running pass has reached; they become `cursors` when it completes.
  pass_cursors    jsonb NOT NULL DEFAULT '{}',
  requested       text CHECK (requested IN ('full', 'incremental')),
  last_full_at    timestamptz,
  last_sync_at    timestamptz,
  last_error      text,
  last_error_at   timestamptz,
  -- Records read from CiviCRM per entity by the running or last pass.
  pass_records    jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE ingest.sync_state IS
  'Per CiviCRM pull source: the running pass and its position, incremental cursors, last success and error';
GRANT SELECT, UPDATE ON ingest.sync_state TO gabe_ingest;

CREATE TABLE ingest.sync_seen (
  source  text NOT NULL REFERENCES ingest.source_pull (source) ON DELETE CASCADE,
  entity  text NOT NULL,
  id      bigint NOT NULL,
  PRIMARY KEY (source, entity, id)
);
COMMENT ON TABLE ingest.sync_seen IS
  'Ids read by the running full reconciliation of a pull source: what is missing at its end was deleted';
GRANT SELECT, INSERT, DELETE ON ingest.sync_seen TO gabe_ingest;
