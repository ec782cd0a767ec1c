-- How many occurrences a deadline has: 1 without recurrence, else every p_every months from
-- p_local_due (Europe/Berlin wall-clock time) while the day is not after p_until. Months are
-- added to the first occurrence each time (k·p_every months), so a day past a month's end is
-- clamped in that month only: 31 Jan every month gives 28/29 Feb, 31 Mar, 30 Apr, 31 May, ….
CREATE OR REPLACE FUNCTION grants.count_occurrences(p_local_due timestamp, p_every integer,
                                                    p_until date) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_every IS NULL OR p_until IS NULL THEN 1 ELSE GREATEST(1, (
    SELECT count(*)::integer
      FROM generate_series(0, ((extract(year FROM p_until) * 12 + extract(month FROM p_until))
                               - (extract(year FROM p_local_due) * 12
                                  + extract(month FROM p_local_due)))::integer / p_every) AS k
     WHERE (p_local_due + make_interval(months => k * p_every))::date <= p_until)) END
$$;

REVOKE ALL ON FUNCTION grants.count_occurrences(timestamp, integer, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION grants.count_occurrences(timestamp, integer, date) TO gabe_grants;
