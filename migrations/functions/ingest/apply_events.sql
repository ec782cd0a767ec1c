-- Applies a batch of canonical events. Element i of every array belongs to event i (its seq,
-- from 1). gift.created and gift.updated carry their data in the gift columns and a NULL
-- p_data; every other type carries its normalised data in p_data (see
-- services/ingest/canonical_event.cpp). p_donor_ref is the person an event names, also for a
-- rejected one, so that erasure finds it. Events are idempotent by (source, event_id); the
-- newest version of an entity wins, so order of delivery does not matter. Merges and
-- erasures arrive alone in their batch (the caller splits there).
-- Returns only the events that were not processed: duplicate or rejected, with the reason.
CREATE OR REPLACE FUNCTION ingest.apply_events(
  p_source text[], p_event_id text[], p_type text[], p_occurred_at timestamptz[], p_raw text[],
  p_adapter text[], p_donor_ref text[], p_reject text[], p_data jsonb[],
  p_gift_ref text[], p_amount_cents bigint[], p_currency text[], p_received_on date[],
  p_campaign_ref text[], p_channel text[], p_fund text[], p_recurring_ref text[],
  p_gift_status text[])
RETURNS TABLE (seq integer, status text, error text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_n bigint;
  v_types text[];
  -- Gifts (most events) take one statement of their own; everything else the steps below.
  v_gifts constant boolean := p_type && ARRAY['gift.created', 'gift.updated'];
  v_others constant boolean := NOT (p_type <@ ARRAY['gift.created', 'gift.updated']);
  v_seq integer[];
  v_status text[];
  v_error text[];
  v_scrub_sources text[];
  v_scrub_events text[];
  v_erase_ids bigint[];
  v_erase_sources text[];
  v_erase_refs text[];
BEGIN
  -- A large batch (an import) is planned for its actual size: a plan cached for a handful of
  -- webhook events would join thousands of rows by nested loops.
  IF cardinality(p_source) > 64 THEN
    PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);
  END IF;

  -- 1. Every donor ref the batch names resolves to a donor; unknown ones get a placeholder
  -- (refunds and erasures name a person but must not create one; tombstoned refs are handled
  -- below). Done for all events, also duplicates: a processed event's ref is never unknown.
  -- In ref order, so that concurrent batches naming the same new refs cannot deadlock.
  WITH named AS (
    SELECT DISTINCT u.source, u.donor_ref
    FROM unnest(p_source, p_donor_ref, p_reject, p_type) AS u(source, donor_ref, reject, type)
    WHERE u.reject IS NULL AND u.donor_ref IS NOT NULL AND u.type NOT IN ('gift.refunded', 'donor.erased')
  ), unknown AS MATERIALIZED (
    -- Most refs are known; only the others are hashed and looked up among the tombstones.
    SELECT n.* FROM named n
    WHERE NOT EXISTS (SELECT 1 FROM ingest.donor_refs r WHERE r.source = n.source AND r.ref = n.donor_ref)
  ), missing AS (
    SELECT k.* FROM unknown k
    WHERE NOT EXISTS (SELECT 1 FROM ingest.tombstones t WHERE t.ref_hash = ingest.ref_hash(k.source, k.donor_ref))
  ), created AS (
    INSERT INTO donor.donors (source, ref)
    SELECT m.source, m.donor_ref FROM missing m ORDER BY m.source, m.donor_ref
    ON CONFLICT (source, ref) DO NOTHING
    RETURNING id, donors.source, donors.ref
  )
  INSERT INTO ingest.donor_refs (source, ref, donor_id) SELECT c.source, c.ref, c.id FROM created c
  ON CONFLICT DO NOTHING;

  IF v_others THEN
    -- 2-6. Every type but gifts goes through the work table, step by step.
    -- Emptied by DELETE (cheap for small batches); a temp table's dead rows are never vacuumed,
    -- so once it has grown it is truncated instead.
    IF pg_relation_size('ingest_work') > 1048576 THEN
      TRUNCATE ingest_work;
    ELSE
      DELETE FROM ingest_work;
    END IF;

    -- 2. The inbox takes new events (and earlier rejected ones delivered again); the work table
    -- gets each taken event with the donor it resolves to. Gifts are taken in step 7 by the
    -- same INSERT inside their own statement: keep the two alike. (One INSERT for all types,
    -- in a statement of its own, cost gift-only batches 5-8 % of webhook throughput.)
    WITH ev AS (
      SELECT (u.ord)::integer AS seq, u.source, u.event_id, u.type, u.occurred_at, u.raw, u.adapter,
             u.donor_ref, u.reject, u.data, u.gift_ref, u.amount_cents, u.currency, u.received_on,
             u.campaign_ref, u.channel, u.fund, u.recurring_ref, u.gift_status
      FROM unnest(p_source, p_event_id, p_type, p_occurred_at, p_raw, p_adapter, p_donor_ref,
                  p_reject, p_data, p_gift_ref, p_amount_cents, p_currency, p_received_on,
                  p_campaign_ref, p_channel, p_fund, p_recurring_ref, p_gift_status)
           WITH ORDINALITY AS u(source, event_id, type, occurred_at, raw, adapter, donor_ref, reject,
                                data, gift_ref, amount_cents, currency, received_on, campaign_ref,
                                channel, fund, recurring_ref, gift_status, ord)
      WHERE u.type NOT IN ('gift.created', 'gift.updated')
    ), firsts AS (
      SELECT DISTINCT ON (ev.source, ev.event_id) ev.* FROM ev ORDER BY ev.source, ev.event_id, ev.seq
    ), taken AS (
      INSERT INTO ingest.inbox AS i (source, event_id, type, adapter, donor_ref, occurred_at, raw, status, error)
      SELECT f.source, f.event_id, f.type, COALESCE(f.adapter, 'generic'), f.donor_ref,
             f.occurred_at, f.raw, CASE WHEN f.reject IS NULL THEN 'processed' ELSE 'rejected' END, f.reject
      FROM firsts f
      ON CONFLICT (source, event_id) DO UPDATE
        SET type = excluded.type, adapter = excluded.adapter, donor_ref = excluded.donor_ref,
            occurred_at = excluded.occurred_at,
            raw = excluded.raw, status = excluded.status, error = excluded.error,
            received_at = now(), attempts = i.attempts + 1
        WHERE i.status = 'rejected'
      RETURNING i.source, i.event_id
    )
    INSERT INTO ingest_work (seq, source, event_id, type, occurred_at, donor_ref, donor_id, outcome, data,
                             gift_ref, amount_cents, currency, received_on, campaign_ref, channel, fund,
                             recurring_ref, gift_status)
    SELECT f.seq, f.source, f.event_id, f.type, f.occurred_at, f.donor_ref,
           CASE WHEN f.reject IS NULL THEN r.donor_id END,
           CASE WHEN f.reject IS NULL THEN 'processed' ELSE 'rejected' END,
           f.data, f.gift_ref, f.amount_cents, f.currency, f.received_on, f.campaign_ref, f.channel,
           f.fund, f.recurring_ref, f.gift_status
    FROM firsts f
    JOIN taken t ON t.source = f.source AND t.event_id = f.event_id
    LEFT JOIN ingest.donor_refs r ON r.source = f.source AND r.ref = f.donor_ref;

    -- Steps for types the batch does not have are skipped: a batch is mostly gifts.
    v_types := ARRAY(SELECT DISTINCT b.type FROM ingest_work b WHERE b.outcome = 'processed');

    -- 3. Refs with a tombstone: a donor.upserted that grants some consent lifts it and starts
    -- a fresh profile; anything else lands on the erased record.
    IF 'donor.upserted' = ANY (v_types) THEN
      DELETE FROM ingest.tombstones t USING ingest_work b
      WHERE b.outcome = 'processed' AND b.type = 'donor.upserted' AND (b.data ->> 'grants_consent')::boolean
        AND b.donor_id IS NULL AND t.ref_hash = ingest.ref_hash(b.source, b.donor_ref);
      -- Whose tombstone was lifted starts a fresh profile.
      WITH lifted AS (
        SELECT DISTINCT b.source, b.donor_ref FROM ingest_work b
        WHERE b.outcome = 'processed' AND b.type = 'donor.upserted' AND b.donor_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM ingest.tombstones t WHERE t.ref_hash = ingest.ref_hash(b.source, b.donor_ref))
      ), created AS (
        INSERT INTO donor.donors (source, ref)
        SELECT l.source, l.donor_ref FROM lifted l ORDER BY l.source, l.donor_ref
        ON CONFLICT (source, ref) DO NOTHING
        RETURNING id, donors.source, donors.ref
      )
      INSERT INTO ingest.donor_refs (source, ref, donor_id) SELECT c.source, c.ref, c.id FROM created c
      ON CONFLICT DO NOTHING;
      UPDATE ingest_work b SET donor_id = r.donor_id
      FROM ingest.donor_refs r
      WHERE b.outcome = 'processed' AND b.donor_id IS NULL AND r.source = b.source AND r.ref = b.donor_ref;
    END IF;

    UPDATE ingest_work b SET donor_id = t.donor_id, tombstoned = true
    FROM ingest.tombstones t
    WHERE b.outcome = 'processed' AND b.donor_id IS NULL AND b.donor_ref IS NOT NULL
      AND t.ref_hash = ingest.ref_hash(b.source, b.donor_ref);

    -- 3b. Erasures running now. The work table resolved its donors from a snapshot taken before
    -- an erasure committed (ingest.erase_donor locks the donor row FOR UPDATE), and what is
    -- written below for such a donor would outlive the erasure. So the donors that get personal
    -- data (profile, contact, consent, appeals) or a merge are locked first, in id order (no
    -- deadlock between batches), and whoever turns out erased once the lock is held is treated
    -- like a tombstoned ref. Erasures that come later wait for this transaction, and then see
    -- (and remove) what it wrote, the inbox rows included.
    IF v_types && ARRAY['donor.upserted', 'consent.changed', 'appeal.sent', 'donor.merged'] THEN
      PERFORM 1 FROM donor.donors d
      WHERE d.id IN (SELECT b.donor_id FROM ingest_work b
                     WHERE b.outcome = 'processed' AND NOT b.tombstoned AND b.donor_id IS NOT NULL
                       AND b.type IN ('donor.upserted', 'consent.changed', 'appeal.sent', 'donor.merged'))
      ORDER BY d.id
      FOR NO KEY UPDATE OF d;
      -- A statement of its own: its snapshot sees every erasure that the lock waited for.
      UPDATE ingest_work b SET tombstoned = true
      FROM donor.donors d
      WHERE b.outcome = 'processed' AND NOT b.tombstoned AND d.id = b.donor_id
        AND d.erased_at IS NOT NULL;
    END IF;

    IF EXISTS (SELECT 1 FROM ingest_work b WHERE b.tombstoned OR b.outcome = 'rejected') THEN
      -- A tombstoned person gets no profile data back, no consent and no appeals either.
      UPDATE ingest_work b SET outcome = 'ignored'
      WHERE b.tombstoned AND b.type IN ('donor.upserted', 'consent.changed', 'donor.merged', 'appeal.sent');
      -- What arrives for an erased person is not kept in the clear either, rejected or not.
      UPDATE ingest.inbox i SET raw = NULL
      FROM ingest_work b WHERE b.tombstoned AND i.source = b.source AND i.event_id = b.event_id;
      UPDATE ingest.inbox i SET raw = NULL
      FROM ingest_work b, ingest.tombstones t
      WHERE b.outcome = 'rejected' AND i.source = b.source AND i.event_id = b.event_id
        AND i.donor_ref IS NOT NULL AND t.ref_hash = ingest.ref_hash(i.source, i.donor_ref);
    END IF;

    IF 'donor.upserted' = ANY (v_types) THEN
      -- 4. Donor profiles: the newest version per donor wins, also against what is stored.
      WITH newest AS (
        SELECT DISTINCT ON (b.donor_id) b.donor_id, b.data
        FROM ingest_work b
        WHERE b.outcome = 'processed' AND b.type = 'donor.upserted' AND b.donor_id IS NOT NULL
        ORDER BY b.donor_id, (b.data ->> 'updated_at')::timestamptz DESC, b.seq DESC
      ), changed AS (
        UPDATE donor.donors d
        SET language = n.data ->> 'language', country = n.data ->> 'country',
            tags = ARRAY(SELECT jsonb_array_elements_text(COALESCE(n.data -> 'tags', '[]'))),
            is_placeholder = false, updated_at = (n.data ->> 'updated_at')::timestamptz,
            modified_at = now()
        FROM newest n
        WHERE d.id = n.donor_id AND d.erased_at IS NULL
          AND d.updated_at <= (n.data ->> 'updated_at')::timestamptz
        RETURNING d.id, n.data
      ), pii_written AS (
        INSERT INTO pii.donor_pii AS p (donor_id, first_name, last_name, organization_name, email, phone,
                                        street, postal_code, city)
        SELECT c.id, c.data ->> 'first_name', c.data ->> 'last_name', c.data ->> 'organization_name',
               c.data ->> 'email', c.data ->> 'phone', c.data ->> 'street', c.data ->> 'postal_code',
               c.data ->> 'city'
        FROM changed c
        ON CONFLICT (donor_id) DO UPDATE
          SET first_name = excluded.first_name, last_name = excluded.last_name,
              organization_name = excluded.organization_name, email = excluded.email,
              phone = excluded.phone, street = excluded.street, postal_code = excluded.postal_code,
              city = excluded.city
        RETURNING p.donor_id
      ), audit_written AS (
        INSERT INTO donor.audit_attributes AS a (donor_id, gender, age_band)
        SELECT c.id, c.data -> 'audit' ->> 'gender', c.data -> 'audit' ->> 'age_band'
        FROM changed c WHERE c.data ? 'audit'
        ON CONFLICT (donor_id) DO UPDATE SET gender = excluded.gender, age_band = excluded.age_band
        RETURNING a.donor_id
      )
      SELECT count(*) INTO v_n FROM (SELECT 1 FROM pii_written UNION ALL SELECT 1 FROM audit_written) x;
    END IF;

    IF v_types && ARRAY['donor.upserted', 'consent.changed'] THEN
      -- 5. Consent: from donor.upserted (all channels it names) and consent.changed (one).
      WITH stated AS (
        SELECT b.seq, b.donor_id, c.key AS channel, c.value::boolean AS granted,
               (b.data ->> 'updated_at')::timestamptz AS at, b.source AS source
        FROM ingest_work b, jsonb_each_text(b.data -> 'consent') c
        WHERE b.outcome = 'processed' AND b.type = 'donor.upserted' AND b.donor_id IS NOT NULL
        UNION ALL
        SELECT b.seq, b.donor_id, b.data ->> 'channel', (b.data ->> 'granted')::boolean,
               (b.data ->> 'at')::timestamptz, COALESCE(b.data ->> 'consent_source', b.source)
        FROM ingest_work b
        WHERE b.outcome = 'processed' AND b.type = 'consent.changed' AND b.donor_id IS NOT NULL
      ), kept AS (
        INSERT INTO donor.consent_history (donor_id, channel, granted, at, source)
        SELECT s.donor_id, s.channel, s.granted, s.at, s.source FROM stated s
        RETURNING 1
      ), newest AS (
        SELECT DISTINCT ON (s.donor_id, s.channel) s.* FROM stated s
        ORDER BY s.donor_id, s.channel, s.at DESC, s.seq DESC
      ), current AS (
        INSERT INTO donor.consents AS c (donor_id, channel, granted, at, source)
        SELECT n.donor_id, n.channel, n.granted, n.at, n.source FROM newest n
        ON CONFLICT (donor_id, channel) DO UPDATE
          SET granted = excluded.granted, at = excluded.at, source = excluded.source
          WHERE c.at <= excluded.at
        RETURNING c.donor_id, c.channel, c.granted
      ), objection AS (
        UPDATE donor.donors d SET profiling_objection = NOT cur.granted, modified_at = now()
        FROM current cur WHERE cur.channel = 'profiling' AND d.id = cur.donor_id
        RETURNING 1
      )
      SELECT count(*) INTO v_n FROM (SELECT 1 FROM kept UNION ALL SELECT 1 FROM objection) x;
    END IF;

    IF 'campaign.upserted' = ANY (v_types) THEN
      -- 6. Campaigns and recurring commitments.
      WITH newest AS (
        SELECT DISTINCT ON (b.source, b.data ->> 'campaign_ref') b.source, b.occurred_at, b.data
        FROM ingest_work b WHERE b.outcome = 'processed' AND b.type = 'campaign.upserted'
        ORDER BY b.source, b.data ->> 'campaign_ref', b.occurred_at DESC, b.seq DESC
      )
      INSERT INTO donor.campaigns AS c (source, ref, name, channel, starts_on, ends_on, goal_cents,
                                        cost_per_contact_cents, updated_at)
      SELECT n.source, n.data ->> 'campaign_ref', n.data ->> 'name', n.data ->> 'channel',
             (n.data ->> 'starts_on')::date, (n.data ->> 'ends_on')::date,
             (n.data ->> 'goal_cents')::bigint, (n.data ->> 'cost_per_contact_cents')::bigint, n.occurred_at
      FROM newest n
      ON CONFLICT (source, ref) DO UPDATE
        SET name = excluded.name, channel = excluded.channel, starts_on = excluded.starts_on,
            ends_on = excluded.ends_on, goal_cents = excluded.goal_cents,
            cost_per_contact_cents = excluded.cost_per_contact_cents, updated_at = excluded.updated_at
        WHERE c.updated_at <= excluded.updated_at;
    END IF;

    IF 'recurring.upserted' = ANY (v_types) THEN
      -- Recurring commitments.
      WITH newest AS (
        SELECT DISTINCT ON (b.source, b.data ->> 'recurring_ref') b.source, b.donor_id, b.occurred_at, b.data
        FROM ingest_work b
        WHERE b.outcome = 'processed' AND b.type = 'recurring.upserted' AND b.donor_id IS NOT NULL
        ORDER BY b.source, b.data ->> 'recurring_ref', b.occurred_at DESC, b.seq DESC
      )
      INSERT INTO donor.recurring AS r (source, ref, donor_id, amount_cents, currency, interval, status,
                                        started_on, cancelled_on, cancel_reason, updated_at)
      SELECT n.source, n.data ->> 'recurring_ref', n.donor_id, (n.data ->> 'amount_cents')::bigint,
             n.data ->> 'currency', n.data ->> 'interval', n.data ->> 'status',
             (n.data ->> 'started_on')::date, (n.data ->> 'cancelled_on')::date,
             n.data ->> 'cancel_reason', n.occurred_at
      FROM newest n
      ON CONFLICT (source, ref) DO UPDATE
        SET donor_id = excluded.donor_id, amount_cents = excluded.amount_cents,
            currency = excluded.currency, interval = excluded.interval, status = excluded.status,
            started_on = excluded.started_on, cancelled_on = excluded.cancelled_on,
            cancel_reason = excluded.cancel_reason, updated_at = excluded.updated_at
        WHERE r.updated_at <= excluded.updated_at;
    END IF;

  END IF;

  IF v_gifts THEN
    -- 7. Gifts in one statement: the inbox takes them (as in step 2), each resolves to its
    -- donor (a tombstoned ref to the erased record), and the newest version of each gift wins,
    -- also against what is stored. What was not processed, and what must not be kept in the
    -- clear, is collected for the answer.
    WITH ev AS (
      SELECT (u.ord)::integer AS seq, u.source, u.event_id, u.type, u.occurred_at, u.raw, u.adapter,
             u.donor_ref, u.reject, u.gift_ref, u.amount_cents, u.currency, u.received_on,
             u.campaign_ref, u.channel, u.fund, u.recurring_ref, u.gift_status
      FROM unnest(p_source, p_event_id, p_type, p_occurred_at, p_raw, p_adapter, p_donor_ref,
                  p_reject, p_gift_ref, p_amount_cents, p_currency, p_received_on,
                  p_campaign_ref, p_channel, p_fund, p_recurring_ref, p_gift_status)
           WITH ORDINALITY AS u(source, event_id, type, occurred_at, raw, adapter, donor_ref, reject,
                                gift_ref, amount_cents, currency, received_on, campaign_ref,
                                channel, fund, recurring_ref, gift_status, ord)
      WHERE u.type IN ('gift.created', 'gift.updated')
    ), firsts AS (
      SELECT DISTINCT ON (ev.source, ev.event_id) ev.* FROM ev ORDER BY ev.source, ev.event_id, ev.seq
    ), taken AS (
      INSERT INTO ingest.inbox AS i (source, event_id, type, adapter, donor_ref, occurred_at, raw, status, error)
      SELECT f.source, f.event_id, f.type, COALESCE(f.adapter, 'generic'), f.donor_ref,
             f.occurred_at, f.raw, CASE WHEN f.reject IS NULL THEN 'processed' ELSE 'rejected' END, f.reject
      FROM firsts f
      ON CONFLICT (source, event_id) DO UPDATE
        SET type = excluded.type, adapter = excluded.adapter, donor_ref = excluded.donor_ref,
            occurred_at = excluded.occurred_at,
            raw = excluded.raw, status = excluded.status, error = excluded.error,
            received_at = now(), attempts = i.attempts + 1
        WHERE i.status = 'rejected'
      RETURNING i.source, i.event_id
    ), resolved AS (
      SELECT f.*, r.donor_id AS ref_donor,
             CASE WHEN r.donor_id IS NULL AND f.donor_ref IS NOT NULL THEN
               (SELECT t.donor_id FROM ingest.tombstones t
                WHERE t.ref_hash = ingest.ref_hash(f.source, f.donor_ref)) END AS erased_donor
      FROM firsts f
      JOIN taken k ON k.source = f.source AND k.event_id = f.event_id
      LEFT JOIN ingest.donor_refs r ON r.source = f.source AND r.ref = f.donor_ref
    ), newest AS (
      SELECT DISTINCT ON (w.source, w.gift_ref) w.*, COALESCE(w.ref_donor, w.erased_donor) AS donor_id
      FROM resolved w
      WHERE w.reject IS NULL AND COALESCE(w.ref_donor, w.erased_donor) IS NOT NULL
      ORDER BY w.source, w.gift_ref, w.occurred_at DESC, w.seq DESC
    ), written AS (
      INSERT INTO donor.gifts AS g (source, ref, donor_id, amount_cents, currency, received_on,
                                    campaign_ref, channel, fund, recurring_ref, status, updated_at)
      SELECT n.source, n.gift_ref, n.donor_id, n.amount_cents, n.currency, n.received_on,
             n.campaign_ref, n.channel, n.fund, n.recurring_ref, n.gift_status, n.occurred_at
      FROM newest n
      ON CONFLICT (source, ref) DO UPDATE
        SET donor_id = excluded.donor_id, amount_cents = excluded.amount_cents,
            currency = excluded.currency, received_on = excluded.received_on,
            campaign_ref = excluded.campaign_ref, channel = excluded.channel, fund = excluded.fund,
            recurring_ref = excluded.recurring_ref, status = excluded.status,
            updated_at = excluded.updated_at
        WHERE g.updated_at <= excluded.updated_at
      RETURNING 1
    ), outcome AS (
      SELECT e.seq, e.reject, w.seq IS NOT NULL AS was_taken, w.erased_donor IS NOT NULL AS erased,
             e.source, e.event_id
      FROM ev e LEFT JOIN resolved w ON w.seq = e.seq
    )
    SELECT array_agg(o.seq ORDER BY o.seq) FILTER (WHERE NOT o.was_taken OR o.reject IS NOT NULL),
           array_agg(CASE WHEN o.was_taken THEN 'rejected' ELSE 'duplicate' END ORDER BY o.seq)
             FILTER (WHERE NOT o.was_taken OR o.reject IS NOT NULL),
           array_agg(CASE WHEN o.was_taken THEN o.reject END ORDER BY o.seq)
             FILTER (WHERE NOT o.was_taken OR o.reject IS NOT NULL),
           array_agg(o.source) FILTER (WHERE o.was_taken AND o.erased),
           array_agg(o.event_id) FILTER (WHERE o.was_taken AND o.erased),
           (SELECT count(*) FROM written)
    INTO v_seq, v_status, v_error, v_scrub_sources, v_scrub_events, v_n
    FROM outcome o;

    -- What arrives for an erased person is not kept in the clear, rejected or not.
    IF v_scrub_events IS NOT NULL THEN
      UPDATE ingest.inbox i SET raw = NULL
      FROM unnest(v_scrub_sources, v_scrub_events) AS x(source, event_id)
      WHERE i.source = x.source AND i.event_id = x.event_id;
    END IF;
  END IF;

  IF v_others THEN
    IF 'gift.refunded' = ANY (v_types) THEN
      -- A refund needs the gift; an unknown one is rejected so that it can be replayed later.
      UPDATE ingest_work b SET outcome = 'rejected:unknown gift_ref'
      WHERE b.outcome = 'processed' AND b.type = 'gift.refunded'
        AND NOT EXISTS (SELECT 1 FROM donor.gifts g WHERE g.source = b.source AND g.ref = b.data ->> 'gift_ref');
      UPDATE donor.gifts g SET status = 'refunded', updated_at = n.occurred_at
      FROM (SELECT DISTINCT ON (b.source, b.data ->> 'gift_ref') b.source, b.data ->> 'gift_ref' AS ref, b.occurred_at
            FROM ingest_work b WHERE b.outcome = 'processed' AND b.type = 'gift.refunded'
            ORDER BY b.source, b.data ->> 'gift_ref', b.occurred_at DESC) n
      WHERE g.source = n.source AND g.ref = n.ref AND g.updated_at <= n.occurred_at;
    END IF;

    IF 'appeal.sent' = ANY (v_types) THEN
      -- 8. Appeals.
      INSERT INTO donor.appeals (source, campaign_ref, donor_id, sent_on, channel)
      SELECT DISTINCT ON (b.source, b.data ->> 'campaign_ref', b.donor_id, (b.data ->> 'sent_on')::date)
             b.source, b.data ->> 'campaign_ref', b.donor_id, (b.data ->> 'sent_on')::date, b.data ->> 'channel'
      FROM ingest_work b
      WHERE b.outcome = 'processed' AND b.type = 'appeal.sent' AND b.donor_id IS NOT NULL
      ON CONFLICT DO NOTHING;
    END IF;

    IF v_types && ARRAY['donor.merged', 'donor.erased'] THEN
      -- 9. Merges and erasures (alone in their batch).
      PERFORM ingest.merge_donors(b.donor_id, b.source, ARRAY(SELECT jsonb_array_elements_text(b.data -> 'merged_refs')))
      FROM ingest_work b
      WHERE b.outcome = 'processed' AND b.type = 'donor.merged' AND b.donor_id IS NOT NULL AND NOT b.tombstoned;
      -- A CRM erases a person by their own ref. An erasure of a ref that was merged into another
      -- donor (CRMs delete the duplicate when they merge) retires that ref only.
      PERFORM ingest.erase_donor(b.donor_id, 'crm:' || b.source, 'donor.erased from the CRM')
      FROM ingest_work b JOIN donor.donors d ON d.id = b.donor_id
      WHERE b.outcome = 'processed' AND b.type = 'donor.erased' AND NOT b.tombstoned
        AND d.source = b.source AND d.ref = b.donor_ref;
      PERFORM ingest.retire_ref(b.source, b.donor_ref)
      FROM ingest_work b JOIN donor.donors d ON d.id = b.donor_id
      WHERE b.outcome = 'processed' AND b.type = 'donor.erased' AND NOT b.tombstoned
        AND (d.source <> b.source OR d.ref IS DISTINCT FROM b.donor_ref);
      -- A ref without a profile (never seen, or seen only in rejected events) is erased too: the
      -- CRM says the person is erased, so the ref gets a tombstone on an erased record of its
      -- own (a later gift lands there, pseudonymised; only a donor.upserted granting consent
      -- starts a profile again), and no inbox row naming it keeps its raw text.
      IF EXISTS (SELECT 1 FROM ingest_work b
                 WHERE b.outcome = 'processed' AND b.type = 'donor.erased' AND b.donor_id IS NULL
                   AND NOT b.tombstoned AND b.donor_ref IS NOT NULL) THEN
        SELECT array_agg(r.source), array_agg(r.donor_ref),
               array_agg(nextval(pg_get_serial_sequence('donor.donors', 'id')))
        INTO v_erase_sources, v_erase_refs, v_erase_ids
        FROM (SELECT DISTINCT b.source, b.donor_ref FROM ingest_work b
              WHERE b.outcome = 'processed' AND b.type = 'donor.erased' AND b.donor_id IS NULL
                AND NOT b.tombstoned AND b.donor_ref IS NOT NULL) r;
        INSERT INTO donor.donors (id, source, ref, erased_at)
        SELECT x.id, x.source, NULL, now() FROM unnest(v_erase_ids, v_erase_sources) AS x(id, source);
        INSERT INTO ingest.tombstones (ref_hash, donor_id)
        SELECT ingest.ref_hash(x.source, x.ref), x.id
        FROM unnest(v_erase_ids, v_erase_sources, v_erase_refs) AS x(id, source, ref)
        ON CONFLICT (ref_hash) DO NOTHING;
        UPDATE ingest.inbox i SET raw = NULL, donor_ref = NULL
        FROM unnest(v_erase_sources, v_erase_refs) AS x(source, ref)
        WHERE i.source = x.source AND i.donor_ref = x.ref;
        PERFORM gabe.record_audit('ingest', 'crm:' || x.source, 'donor.erase', 'donor:' || x.id,
                                  jsonb_build_object('reason', 'donor.erased from the CRM', 'profile', false))
        FROM unnest(v_erase_ids, v_erase_sources) AS x(id, source);
      END IF;
    END IF;

    IF EXISTS (SELECT 1 FROM ingest_work b WHERE b.outcome LIKE 'rejected:%') THEN
      -- 10. Late rejections are recorded in the inbox.
      UPDATE ingest.inbox i SET status = 'rejected', error = substr(b.outcome, 10)
      FROM ingest_work b
      WHERE b.outcome LIKE 'rejected:%' AND i.source = b.source AND i.event_id = b.event_id;
    END IF;

    -- The answer names every event that was not processed.
    RETURN QUERY
    SELECT e.seq::integer,
           CASE WHEN b.seq IS NULL THEN 'duplicate' ELSE 'rejected' END,
           CASE WHEN b.outcome LIKE 'rejected:%' THEN substr(b.outcome, 10) ELSE e.reject END
    FROM unnest(p_reject, p_type) WITH ORDINALITY AS e(reject, type, seq)
    LEFT JOIN ingest_work b ON b.seq = e.seq
    WHERE e.type NOT IN ('gift.created', 'gift.updated')
      AND (b.seq IS NULL OR b.outcome NOT IN ('processed', 'ignored'));
  END IF;

  IF v_seq IS NOT NULL THEN
    RETURN QUERY SELECT u.seq, u.status, u.error FROM unnest(v_seq, v_status, v_error) AS u(seq, status, error);
  END IF;
END
$$;

REVOKE ALL ON FUNCTION ingest.apply_events(
  text[], text[], text[], timestamptz[], text[], text[], text[], text[], jsonb[], text[], bigint[],
  text[], date[], text[], text[], text[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.apply_events(
  text[], text[], text[], timestamptz[], text[], text[], text[], text[], jsonb[], text[], bigint[],
  text[], date[], text[], text[], text[], text[], text[]) TO gabe_ingest;
