-- Every occurrence of every deadline: occurrence k is due at local_due + (k-1)·every_months
-- months, Europe/Berlin wall-clock time, turned into an instant by PostgreSQL's zone rules (so
-- 23:59 is 21:59Z in summer and 22:59Z in winter); the first occurrence is the instant as given.
-- state: done (completed), overdue (due time passed) or open. cancelled: the deadline was deleted
-- (a tombstone), or a change of its recurrence removed this occurrence (up to the most it ever
-- had, peak_occurrences), so that calendar feeds can cancel the event.
CREATE OR REPLACE FUNCTION grants.deadline_occurrences()
  RETURNS TABLE (deadline_id bigint, grant_id bigint, occurrence integer, due_at timestamptz,
                 internal_due_on date, state text, completed_at timestamptz, cancelled boolean)
  LANGUAGE sql STABLE AS $$
  SELECT d.id, d.grant_id, k + 1, x.due_at,
         (d.internal_due_on + make_interval(months => k * COALESCE(d.every_months, 0)))::date,
         CASE WHEN c.deadline_id IS NOT NULL THEN 'done'
              WHEN x.due_at < now() THEN 'overdue'
              ELSE 'open' END,
         c.completed_at, d.deleted_at IS NOT NULL OR k + 1 > n.count
    FROM grants.deadlines d
   CROSS JOIN LATERAL (SELECT grants.count_occurrences(d.local_due, d.every_months, d.until_on)
                              AS count) AS n
   CROSS JOIN LATERAL generate_series(0, GREATEST(n.count, d.peak_occurrences) - 1) AS k
   CROSS JOIN LATERAL (
     SELECT CASE WHEN k = 0 THEN d.first_due_at
                 ELSE (d.local_due + make_interval(months => k * COALESCE(d.every_months, 0)))
                      AT TIME ZONE 'Europe/Berlin' END AS due_at) AS x
    LEFT JOIN grants.completions c ON c.deadline_id = d.id AND c.occurrence = k + 1
$$;

REVOKE ALL ON FUNCTION grants.deadline_occurrences() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION grants.deadline_occurrences() TO gabe_grants;
