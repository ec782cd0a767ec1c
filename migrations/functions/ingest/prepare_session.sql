-- The working set of one call of apply_events, typed. The caller creates it once per
-- connection, so that apply_events need not touch the catalogue each time. apply_events empties
-- it first; ON COMMIT DELETE ROWS would truncate (new relfilenodes, catalogue writes) at every
-- commit, which costs more than a small batch itself.
CREATE OR REPLACE FUNCTION ingest.prepare_session() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS ingest_work (
    seq           integer NOT NULL,
    source        text COLLATE "C" NOT NULL,
    event_id      text COLLATE "C" NOT NULL,
    type          text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    donor_ref     text COLLATE "C",
    donor_id      bigint,
    tombstoned    boolean NOT NULL DEFAULT false,
    outcome       text NOT NULL,
    data          jsonb,
    gift_ref      text COLLATE "C",
    amount_cents  bigint,
    currency      text,
    received_on   date,
    campaign_ref  text,
    channel       text,
    fund          text,
    recurring_ref text,
    gift_status   text
  );
END
$$;

REVOKE ALL ON FUNCTION ingest.prepare_session() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.prepare_session() TO gabe_ingest;
