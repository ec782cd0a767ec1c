-- Writes one outbox message per event and live subscription of `p_service` that asked for the
-- event's type, inside the caller's transaction (the transactional outbox: a message exists
-- exactly when the decision to send it committed). The body is the Standard Webhooks envelope
-- {"type", "timestamp", "data"}, rendered once, so that every attempt sends and signs the same
-- bytes. p_keys makes the webhook-id ("msg_<service>_<key>_<subscription>"); a key already used
-- adds nothing, so a caller that runs twice cannot send twice. Returns the messages written.
CREATE OR REPLACE FUNCTION outbox.enqueue(p_service text, p_types text[], p_keys text[],
                                          p_data jsonb[]) RETURNS integer
  LANGUAGE sql AS $$
  WITH e AS (
    SELECT * FROM unnest(p_types, p_keys, p_data) AS e(event_type, key, data)
  ), written AS (
    INSERT INTO outbox.messages (service, subscription_id, event_type, webhook_id, body)
    SELECT p_service, s.id, e.event_type, 'msg_' || p_service || '_' || e.key || '_' || s.id,
           jsonb_build_object('type', e.event_type,
                              'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                              'data', e.data)::text
      FROM e
      JOIN outbox.subscriptions s
        ON s.service = p_service AND s.deleted_at IS NULL AND e.event_type = ANY (s.events)
    ON CONFLICT (webhook_id) DO NOTHING
    RETURNING 1
  )
  SELECT count(*)::integer FROM written
$$;

REVOKE ALL ON FUNCTION outbox.enqueue(text, text[], text[], jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outbox.enqueue(text, text[], text[], jsonb[]) TO gabe_grants;
