-- The reminder decision, run by gabe-grants' scheduler every few seconds. For each open or
-- overdue occurrence it finds the latest reminder level that is due: the smallest offset in
-- p_offsets (days before the due time) whose moment has come, or 0 (overdue) once the due time
-- has passed. It is sent only if neither it nor a later level was decided before for that
-- occurrence and due time, so after downtime only the latest due level goes out, never a burst
-- of stale ones, and a moved due time starts over. Overdue reminders are sent only for
-- occurrences overdue by less than p_overdue_days. The decision (grants.reminders) and the
-- outbox messages are written in the caller's transaction. An advisory lock keeps two replicas
-- from deciding at once. Returns the levels decided and the messages written.
CREATE OR REPLACE FUNCTION grants.enqueue_reminders(p_offsets integer[], p_overdue_days integer,
                                                    OUT decided integer, OUT messages integer)
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('grants.enqueue_reminders'));
  WITH occ AS (
    SELECT o.*
      FROM grants.deadline_occurrences() o
     WHERE NOT o.cancelled AND o.state <> 'done'
       AND o.due_at > now() - make_interval(days => p_overdue_days)
       AND o.due_at <= now() + make_interval(days => (SELECT max(x) FROM unnest(p_offsets || 0) x))
  ), levels AS (
    SELECT occ.deadline_id, occ.occurrence, occ.due_at, occ.internal_due_on,
           (SELECT min(x) FROM unnest(p_offsets || 0) x
             WHERE now() >= occ.due_at - make_interval(days => x)) AS level
      FROM occ
  ), picked AS (
    SELECT l.* FROM levels l
     WHERE l.level IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM grants.reminders r
                        WHERE r.deadline_id = l.deadline_id AND r.occurrence = l.occurrence
                          AND r.due_at = l.due_at AND r.offset_days <= l.level)
  ), recorded AS (
    INSERT INTO grants.reminders (deadline_id, occurrence, due_at, offset_days)
    SELECT deadline_id, occurrence, due_at, level FROM picked
    ON CONFLICT DO NOTHING
    RETURNING deadline_id, occurrence, due_at, offset_days
  ), events AS (
    SELECT CASE WHEN r.offset_days = 0 THEN 'deadline.overdue' ELSE 'deadline.reminder' END AS type,
           'd' || r.deadline_id || '_' || r.occurrence || '_'
             || extract(epoch FROM r.due_at)::bigint || '_' || r.offset_days AS key,
           jsonb_build_object(
             'deadline', jsonb_build_object(
               'id', d.id, 'occurrence', r.occurrence, 'kind', d.kind, 'owner', d.owner,
               'due_at', to_char(r.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'internal_due_on', p.internal_due_on),
             'grant', CASE WHEN g.id IS NULL THEN NULL ELSE jsonb_build_object(
               'id', g.id, 'title', g.title, 'programme', g.programme, 'status', g.status,
               'owner', g.owner, 'funder', jsonb_build_object('id', f.id, 'name', f.name)) END,
             'offset_days', r.offset_days,
             'due_at', to_char(r.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) AS data
      FROM recorded r
      JOIN picked p ON p.deadline_id = r.deadline_id AND p.occurrence = r.occurrence
      JOIN grants.deadlines d ON d.id = r.deadline_id
      LEFT JOIN grants.grants g ON g.id = d.grant_id
      LEFT JOIN grants.funders f ON f.id = g.funder_id
  )
  SELECT count(*)::integer,
         COALESCE(outbox.enqueue('grants', array_agg(type), array_agg(key), array_agg(data)), 0)
    INTO decided, messages
    FROM events;
END
$$;

REVOKE ALL ON FUNCTION grants.enqueue_reminders(integer[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION grants.enqueue_reminders(integer[], integer) TO gabe_grants;
