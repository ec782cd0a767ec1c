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

REVOKE ALL ON FUNCTION ingest.purge_inbox_batch(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.purge_inbox_batch(timestamptz, integer) TO gabe_ingest;
