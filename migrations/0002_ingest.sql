-- Ingestion: donors and their behaviour (schema donor), personal data apart (schema pii),
-- webhook sources, the raw-event inbox, ref resolution and erasure tombstones (schema ingest).

CREATE SCHEMA donor;
CREATE SCHEMA pii;
CREATE SCHEMA ingest;
REVOKE ALL ON SCHEMA donor, pii, ingest FROM PUBLIC;

-- Behavioural, pseudonymous data. Readable by scoring and segments.
CREATE TABLE donor.donors (
  id                   bigserial PRIMARY KEY,
  source               text NOT NULL,
  ref                  text,                    -- NULL once erased
  language             text,
  country              text,
  tags                 text[] NOT NULL DEFAULT '{}',
  profiling_objection  boolean NOT NULL DEFAULT false,
  is_placeholder       boolean NOT NULL DEFAULT true,
  merged_into          bigint REFERENCES donor.donors (id),
  updated_at           timestamptz NOT NULL DEFAULT '-infinity',  -- source's time of the data
  created_at           timestamptz NOT NULL DEFAULT now(),
  modified_at          timestamptz NOT NULL DEFAULT now(),         -- our time of the last change
  erased_at            timestamptz,
  UNIQUE (source, ref)
);

CREATE TABLE donor.consents (
  donor_id  bigint NOT NULL REFERENCES donor.donors (id),
  channel   text NOT NULL CHECK (channel IN ('email', 'post', 'phone', 'sms', 'profiling')),
  granted   boolean NOT NULL,
  at        timestamptz NOT NULL,
  source    text NOT NULL,
  PRIMARY KEY (donor_id, channel)
);

CREATE TABLE donor.consent_history (
  id        bigserial PRIMARY KEY,
  donor_id  bigint NOT NULL REFERENCES donor.donors (id),
  channel   text NOT NULL,
  granted   boolean NOT NULL,
  at        timestamptz NOT NULL,
  source    text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_history_donor_idx ON donor.consent_history (donor_id);

CREATE TABLE donor.campaigns (
  id                bigserial PRIMARY KEY,
  source            text NOT NULL,
  ref               text NOT NULL,
  name              text,
  channel           text,
  starts_on         date,
  ends_on           date,
  goal_cents        bigint,
  cost_per_contact_cents bigint,
  updated_at        timestamptz NOT NULL DEFAULT '-infinity',
  UNIQUE (source, ref)
);

CREATE TABLE donor.recurring (
  id             bigserial PRIMARY KEY,
  source         text NOT NULL,
  ref            text NOT NULL,
  donor_id       bigint NOT NULL REFERENCES donor.donors (id),
  amount_cents   bigint NOT NULL CHECK (amount_cents > 0),
  currency       text NOT NULL,
  interval       text NOT NULL CHECK (interval IN ('monthly', 'quarterly', 'half_yearly', 'yearly')),
  status         text NOT NULL CHECK (status IN ('active', 'paused', 'cancelled', 'lapsed')),
  started_on     date,
  cancelled_on   date,
  cancel_reason  text,
  updated_at     timestamptz NOT NULL,
  UNIQUE (source, ref)
);
CREATE INDEX recurring_donor_idx ON donor.recurring (donor_id);

CREATE TABLE donor.gifts (
  id             bigserial PRIMARY KEY,
  source         text NOT NULL,
  ref            text NOT NULL,
  donor_id       bigint NOT NULL REFERENCES donor.donors (id),
  amount_cents   bigint NOT NULL CHECK (amount_cents > 0),
  currency       text NOT NULL,
  received_on    date NOT NULL,
  campaign_ref   text,
  channel        text,
  fund           text,
  recurring_ref  text,
  status         text NOT NULL CHECK (status IN ('completed', 'pending', 'failed', 'refunded', 'cancelled')),
  updated_at     timestamptz NOT NULL,
  UNIQUE (source, ref)
);
CREATE INDEX gifts_donor_idx ON donor.gifts (donor_id, received_on);

CREATE TABLE donor.appeals (
  id            bigserial PRIMARY KEY,
  source        text NOT NULL,
  campaign_ref  text NOT NULL,
  donor_id      bigint NOT NULL REFERENCES donor.donors (id),
  sent_on       date NOT NULL,
  channel       text,
  UNIQUE (source, campaign_ref, donor_id, sent_on)
);
CREATE INDEX appeals_donor_idx ON donor.appeals (donor_id, sent_on);

-- Optional attributes for the fairness report only: never a model feature.
CREATE TABLE donor.audit_attributes (
  donor_id  bigint PRIMARY KEY REFERENCES donor.donors (id),
  gender    text CHECK (gender IN ('f', 'm', 'd', 'u')),
  age_band  text CHECK (age_band IN ('<30', '30-44', '45-59', '60-74', '75+'))
);

-- Personal identifying data. Only ingest and segments may read it.
CREATE TABLE pii.donor_pii (
  donor_id           bigint PRIMARY KEY REFERENCES donor.donors (id),
  first_name         text,
  last_name          text,
  organization_name  text,
  email              text,
  phone              text,
  street             text,
  postal_code        text,
  city               text
);

-- Webhook sources and their signing secrets (needed in clear to verify HMACs; readable by
-- the ingest role only).
CREATE TABLE ingest.sources (
  name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  adapter     text NOT NULL CHECK (adapter IN ('generic', 'civicrm')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ingest.source_secrets (
  id          bigserial PRIMARY KEY,
  source      text NOT NULL REFERENCES ingest.sources (name),
  secret      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);

-- Every received event, raw, so that a mapping fix can be replayed.
CREATE TABLE ingest.inbox (
  id            bigserial PRIMARY KEY,
  source        text NOT NULL,
  event_id      text NOT NULL,
  type          text,
  adapter       text NOT NULL DEFAULT 'generic',  -- how raw is read on replay: generic, civicrm, import
  donor_ref     text,
  occurred_at   timestamptz,
  received_at   timestamptz NOT NULL DEFAULT now(),
  raw           text,           -- NULL once the person it names has been erased
  status        text NOT NULL CHECK (status IN ('processed', 'rejected')),
  error         text,
  attempts      integer NOT NULL DEFAULT 1,
  UNIQUE (source, event_id)
);
CREATE INDEX inbox_rejected_idx ON ingest.inbox (id) WHERE status = 'rejected';
CREATE INDEX inbox_donor_ref_idx ON ingest.inbox (source, donor_ref);

-- Every ref that resolves to a donor: its own ref and, after merges, the merged ones.
CREATE TABLE ingest.donor_refs (
  source    text NOT NULL,
  ref       text NOT NULL,
  donor_id  bigint NOT NULL REFERENCES donor.donors (id),
  PRIMARY KEY (source, ref)
);
CREATE INDEX donor_refs_donor_idx ON ingest.donor_refs (donor_id);

-- Erased refs, kept only as a hash: a gift for them lands on the pseudonymous erased
-- record, and only a donor.upserted that grants consent starts a fresh profile.
CREATE TABLE ingest.tombstones (
  ref_hash  bytea PRIMARY KEY,
  donor_id  bigint NOT NULL REFERENCES donor.donors (id),
  erased_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION ingest.ref_hash(p_source text, p_ref text) RETURNS bytea
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT sha256(convert_to(p_source || E'\x1f' || p_ref, 'UTF8')) $$;

-- The working set of one call of apply_events. Created by the caller once per connection
-- (see ingest.prepare_session) so that apply_events need not touch the catalogue each time.
-- apply_events empties it first; ON COMMIT DELETE ROWS would truncate (new relfilenodes,
-- catalogue writes) at every commit, which costs more than a small batch itself.
CREATE FUNCTION ingest.prepare_session() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS ingest_batch (
        seq          integer NOT NULL,
    source       text NOT NULL,
    event_id     text NOT NULL,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    ref          text,
    donor_id     bigint,
    tombstoned   boolean NOT NULL DEFAULT false,
        data         jsonb NOT NULL,
    outcome      text
  );
END
$$;

-- Applies a batch of canonical events (see services/ingest/canonical_event.cpp for the
-- shape). Events are idempotent by (source, event_id); within a batch, and across batches,
-- the newest version of an entity wins, so order of delivery does not matter. Merges and
-- erasures arrive alone in their batch (the caller splits there).
-- Returns one row per input event: processed, duplicate or rejected, with the reason.
CREATE FUNCTION ingest.apply_events(p_events jsonb)
RETURNS TABLE (seq integer, event_id text, status text, error text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_n bigint;
  v_types text[];
BEGIN
  -- Emptied by DELETE (cheap for small batches); a temp table's dead rows are never vacuumed,
  -- so once it has grown it is truncated instead (18 s -> 8 s for 200,000 imported gifts).
  IF pg_relation_size('ingest_batch') > 1048576 THEN
    TRUNCATE ingest_batch;
  ELSE
    DELETE FROM ingest_batch;
  END IF;

  -- 1. The inbox: new events (and earlier rejected ones delivered again) are taken.
  WITH ev AS (
    SELECT e.* FROM jsonb_to_recordset(p_events) AS e(
      seq integer, source text, event_id text, type text, occurred_at timestamptz,
      raw text, adapter text, donor_ref text, reject text, data jsonb)
  ), firsts AS (
    SELECT DISTINCT ON (ev.source, ev.event_id) ev.* FROM ev ORDER BY ev.source, ev.event_id, ev.seq
  ), taken AS (
    INSERT INTO ingest.inbox AS i (source, event_id, type, adapter, donor_ref, occurred_at, raw, status, error)
    SELECT f.source, f.event_id, f.type, COALESCE(f.adapter, 'generic'), COALESCE(f.data ->> 'donor_ref', f.donor_ref),
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
  INSERT INTO ingest_batch (seq, source, event_id, type, occurred_at, ref, data, outcome)
  SELECT f.seq, f.source, f.event_id, f.type, f.occurred_at,
         COALESCE(f.data ->> 'donor_ref', f.data ->> 'gift_ref'), COALESCE(f.data, '{}'),
         CASE WHEN f.reject IS NULL THEN 'processed' ELSE 'rejected' END
  FROM firsts f JOIN taken t ON t.source = f.source AND t.event_id = f.event_id;

  -- Steps for types the batch does not have are skipped: a webhook batch is mostly gifts.
  v_types := ARRAY(SELECT DISTINCT b.type FROM ingest_batch b WHERE b.outcome = 'processed');

  IF 'donor.upserted' = ANY (v_types) THEN
    -- 2. Tombstones are lifted by a donor.upserted that grants some consent.
    DELETE FROM ingest.tombstones t USING ingest_batch b
    WHERE b.outcome = 'processed' AND b.type = 'donor.upserted' AND (b.data ->> 'grants_consent')::boolean
      AND t.ref_hash = ingest.ref_hash(b.source, b.data ->> 'donor_ref');
  END IF;

  -- 3. Every donor ref the batch names resolves to a donor; unknown ones get a placeholder.
  WITH named AS (
    SELECT DISTINCT b.source, b.data ->> 'donor_ref' AS ref FROM ingest_batch b
    WHERE b.outcome = 'processed' AND b.data ? 'donor_ref'
      AND b.type NOT IN ('gift.refunded', 'donor.erased')
  ), missing AS (
    SELECT n.* FROM named n
    WHERE NOT EXISTS (SELECT 1 FROM ingest.donor_refs r WHERE r.source = n.source AND r.ref = n.ref)
      AND NOT EXISTS (SELECT 1 FROM ingest.tombstones t WHERE t.ref_hash = ingest.ref_hash(n.source, n.ref))
  ), created AS (
    INSERT INTO donor.donors (source, ref) SELECT m.source, m.ref FROM missing m
    ON CONFLICT (source, ref) DO NOTHING
    RETURNING id, donors.source, donors.ref
  )
  INSERT INTO ingest.donor_refs (source, ref, donor_id) SELECT c.source, c.ref, c.id FROM created c
  ON CONFLICT DO NOTHING;

  UPDATE ingest_batch b SET donor_id = r.donor_id
  FROM ingest.donor_refs r
  WHERE b.outcome = 'processed' AND r.source = b.source AND r.ref = b.data ->> 'donor_ref';

  UPDATE ingest_batch b SET donor_id = t.donor_id, tombstoned = true
  FROM ingest.tombstones t
  WHERE b.outcome = 'processed' AND b.donor_id IS NULL AND b.data ? 'donor_ref'
    AND t.ref_hash = ingest.ref_hash(b.source, b.data ->> 'donor_ref');

  IF EXISTS (SELECT 1 FROM ingest_batch b WHERE b.tombstoned OR b.outcome = 'rejected') THEN
    -- A tombstoned person gets no profile data back, and no consent either.
    UPDATE ingest_batch b SET outcome = 'ignored'
    WHERE b.tombstoned AND b.type IN ('donor.upserted', 'consent.changed', 'donor.merged');
    -- What arrives for an erased person is not kept in the clear either, rejected or not.
    UPDATE ingest.inbox i SET raw = NULL
    FROM ingest_batch b WHERE b.tombstoned AND i.source = b.source AND i.event_id = b.event_id;
    UPDATE ingest.inbox i SET raw = NULL
    FROM ingest_batch b, ingest.tombstones t
    WHERE b.outcome = 'rejected' AND i.source = b.source AND i.event_id = b.event_id
      AND i.donor_ref IS NOT NULL AND t.ref_hash = ingest.ref_hash(i.source, i.donor_ref);
  END IF;

  IF 'donor.upserted' = ANY (v_types) THEN
    -- 4. Donor profiles: the newest version per donor wins, also against what is stored.
    WITH newest AS (
      SELECT DISTINCT ON (b.donor_id) b.donor_id, b.data
      FROM ingest_batch b
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
      FROM ingest_batch b, jsonb_each_text(b.data -> 'consent') c
      WHERE b.outcome = 'processed' AND b.type = 'donor.upserted' AND b.donor_id IS NOT NULL
      UNION ALL
      SELECT b.seq, b.donor_id, b.data ->> 'channel', (b.data ->> 'granted')::boolean,
             (b.data ->> 'at')::timestamptz, COALESCE(b.data ->> 'consent_source', b.source)
      FROM ingest_batch b
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
    -- 6. Campaigns.
    WITH newest AS (
      SELECT DISTINCT ON (b.source, b.data ->> 'campaign_ref') b.source, b.occurred_at, b.data
      FROM ingest_batch b WHERE b.outcome = 'processed' AND b.type = 'campaign.upserted'
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
    -- 7. Recurring commitments.
    WITH newest AS (
      SELECT DISTINCT ON (b.source, b.data ->> 'recurring_ref') b.source, b.donor_id, b.occurred_at, b.data
      FROM ingest_batch b
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

  IF v_types && ARRAY['gift.created', 'gift.updated'] THEN
    -- 8. Gifts: created and updated carry the whole gift; the newest wins.
    WITH newest AS (
      SELECT DISTINCT ON (b.source, b.data ->> 'gift_ref') b.source, b.donor_id, b.occurred_at, b.data
      FROM ingest_batch b
      WHERE b.outcome = 'processed' AND b.type IN ('gift.created', 'gift.updated') AND b.donor_id IS NOT NULL
      ORDER BY b.source, b.data ->> 'gift_ref', b.occurred_at DESC, b.seq DESC
    )
    INSERT INTO donor.gifts AS g (source, ref, donor_id, amount_cents, currency, received_on,
                                  campaign_ref, channel, fund, recurring_ref, status, updated_at)
    SELECT n.source, n.data ->> 'gift_ref', n.donor_id, (n.data ->> 'amount_cents')::bigint,
           n.data ->> 'currency', (n.data ->> 'received_on')::date, n.data ->> 'campaign_ref',
           n.data ->> 'channel', n.data ->> 'fund', n.data ->> 'recurring_ref', n.data ->> 'status',
           n.occurred_at
    FROM newest n
    ON CONFLICT (source, ref) DO UPDATE
      SET donor_id = excluded.donor_id, amount_cents = excluded.amount_cents,
          currency = excluded.currency, received_on = excluded.received_on,
          campaign_ref = excluded.campaign_ref, channel = excluded.channel, fund = excluded.fund,
          recurring_ref = excluded.recurring_ref, status = excluded.status,
          updated_at = excluded.updated_at
      WHERE g.updated_at <= excluded.updated_at;
  END IF;

  IF 'gift.refunded' = ANY (v_types) THEN
    -- A refund needs the gift; an unknown one is rejected so that it can be replayed later.
    UPDATE ingest_batch b SET outcome = 'rejected:unknown gift_ref'
    WHERE b.outcome = 'processed' AND b.type = 'gift.refunded'
      AND NOT EXISTS (SELECT 1 FROM donor.gifts g WHERE g.source = b.source AND g.ref = b.data ->> 'gift_ref');
    UPDATE donor.gifts g SET status = 'refunded', updated_at = n.occurred_at
    FROM (SELECT DISTINCT ON (b.source, b.data ->> 'gift_ref') b.source, b.data ->> 'gift_ref' AS ref, b.occurred_at
          FROM ingest_batch b WHERE b.outcome = 'processed' AND b.type = 'gift.refunded'
          ORDER BY b.source, b.data ->> 'gift_ref', b.occurred_at DESC) n
    WHERE g.source = n.source AND g.ref = n.ref AND g.updated_at <= n.occurred_at;
  END IF;

  IF 'appeal.sent' = ANY (v_types) THEN
    -- 9. Appeals.
    INSERT INTO donor.appeals (source, campaign_ref, donor_id, sent_on, channel)
    SELECT DISTINCT ON (b.source, b.data ->> 'campaign_ref', b.donor_id, (b.data ->> 'sent_on')::date)
           b.source, b.data ->> 'campaign_ref', b.donor_id, (b.data ->> 'sent_on')::date, b.data ->> 'channel'
    FROM ingest_batch b
    WHERE b.outcome = 'processed' AND b.type = 'appeal.sent' AND b.donor_id IS NOT NULL
    ON CONFLICT DO NOTHING;
  END IF;

  IF v_types && ARRAY['donor.merged', 'donor.erased'] THEN
    -- 10. Merges and erasures (alone in their batch).
    PERFORM ingest.merge_donors(b.donor_id, b.source, ARRAY(SELECT jsonb_array_elements_text(b.data -> 'merged_refs')))
    FROM ingest_batch b
    WHERE b.outcome = 'processed' AND b.type = 'donor.merged' AND b.donor_id IS NOT NULL AND NOT b.tombstoned;
      -- A CRM erases a person by their own ref. An erasure of a ref that was merged into another
    -- donor (CRMs delete the duplicate when they merge) retires that ref only.
        PERFORM ingest.erase_donor(b.donor_id, 'crm:' || b.source, 'donor.erased from the CRM')
    FROM ingest_batch b JOIN donor.donors d ON d.id = b.donor_id
    WHERE b.outcome = 'processed' AND b.type = 'donor.erased' AND NOT b.tombstoned
      AND d.source = b.source AND d.ref = b.data ->> 'donor_ref';
    PERFORM ingest.retire_ref(b.source, b.data ->> 'donor_ref')
    FROM ingest_batch b JOIN donor.donors d ON d.id = b.donor_id
    WHERE b.outcome = 'processed' AND b.type = 'donor.erased' AND NOT b.tombstoned
      AND (d.source <> b.source OR d.ref IS DISTINCT FROM b.data ->> 'donor_ref');
  END IF;

  IF EXISTS (SELECT 1 FROM ingest_batch b WHERE b.outcome LIKE 'rejected:%') THEN
    -- 11. Late rejections are recorded in the inbox.
    UPDATE ingest.inbox i SET status = 'rejected', error = substr(b.outcome, 10)
    FROM ingest_batch b
    WHERE b.outcome LIKE 'rejected:%' AND i.source = b.source AND i.event_id = b.event_id;
  END IF;

  -- The answer covers every input event.
  RETURN QUERY
  SELECT e.seq, e.event_id,
         CASE WHEN b.seq IS NULL THEN 'duplicate'
              WHEN b.outcome IN ('processed', 'ignored') THEN 'processed'
              ELSE 'rejected' END,
         CASE WHEN b.outcome LIKE 'rejected:%' THEN substr(b.outcome, 10) ELSE e.reject END
  FROM jsonb_to_recordset(p_events) AS e(seq integer, event_id text, reject text)
  LEFT JOIN ingest_batch b ON b.seq = e.seq
  ORDER BY e.seq;
END
$$;

-- Moves everything of the merged refs' donors to the survivor; the old refs resolve to it.
CREATE FUNCTION ingest.merge_donors(p_survivor bigint, p_source text, p_refs text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_old bigint;
  v_ref text;
BEGIN
  FOREACH v_ref IN ARRAY p_refs LOOP
        SELECT r.donor_id INTO v_old FROM ingest.donor_refs r WHERE r.source = p_source AND r.ref = v_ref;
    IF v_old IS NULL AND EXISTS (SELECT 1 FROM ingest.tombstones t WHERE t.ref_hash = ingest.ref_hash(p_source, v_ref)) THEN
      CONTINUE;  -- an erased person is not brought back by a merge
    END IF;
    IF v_old IS NULL THEN
      INSERT INTO ingest.donor_refs (source, ref, donor_id) VALUES (p_source, v_ref, p_survivor);
      CONTINUE;
    END IF;
    IF v_old = p_survivor THEN
      CONTINUE;
    END IF;
    UPDATE donor.gifts SET donor_id = p_survivor WHERE donor_id = v_old;
    UPDATE donor.recurring SET donor_id = p_survivor WHERE donor_id = v_old;
    INSERT INTO donor.appeals (source, campaign_ref, donor_id, sent_on, channel)
      SELECT a.source, a.campaign_ref, p_survivor, a.sent_on, a.channel FROM donor.appeals a
      WHERE a.donor_id = v_old ON CONFLICT DO NOTHING;
    DELETE FROM donor.appeals WHERE donor_id = v_old;
    -- Consent history moves; the survivor's current consent stays unless the merged one is newer.
    UPDATE donor.consent_history SET donor_id = p_survivor WHERE donor_id = v_old;
    INSERT INTO donor.consents AS c (donor_id, channel, granted, at, source)
      SELECT p_survivor, o.channel, o.granted, o.at, o.source FROM donor.consents o WHERE o.donor_id = v_old
    ON CONFLICT (donor_id, channel) DO UPDATE
      SET granted = excluded.granted, at = excluded.at, source = excluded.source
      WHERE c.at < excluded.at;
    DELETE FROM donor.consents WHERE donor_id = v_old;
    DELETE FROM pii.donor_pii WHERE donor_id = v_old;
    DELETE FROM donor.audit_attributes WHERE donor_id = v_old;
    UPDATE ingest.donor_refs SET donor_id = p_survivor WHERE donor_id = v_old;
    UPDATE donor.donors SET merged_into = p_survivor, modified_at = now() WHERE id = v_old;
    UPDATE donor.donors SET merged_into = p_survivor WHERE merged_into = v_old;
    UPDATE donor.donors d SET profiling_objection = EXISTS (
        SELECT 1 FROM donor.consents c WHERE c.donor_id = p_survivor AND c.channel = 'profiling' AND NOT c.granted),
      modified_at = now()
    WHERE d.id = p_survivor;
  END LOOP;
  -- Anything that still landed on a record merged into the survivor (applied concurrently
  -- with an earlier merge, e.g. by another replica) moves too: repeating a merge sweeps up.
  UPDATE donor.gifts g SET donor_id = p_survivor
    FROM donor.donors d WHERE d.merged_into = p_survivor AND g.donor_id = d.id;
  UPDATE donor.recurring r SET donor_id = p_survivor
    FROM donor.donors d WHERE d.merged_into = p_survivor AND r.donor_id = d.id;
END
$$;

-- Art. 17: personal data and everything derived from it go; gifts stay, pseudonymised, for
-- the legal retention period; each ref leaves a hashed tombstone. Later migrations that add
-- derived per-donor data (scores, memberships, features) extend this function.
CREATE FUNCTION ingest.erase_donor(p_donor bigint, p_actor text, p_reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_source text;
BEGIN
  SELECT d.source INTO v_source FROM donor.donors d WHERE d.id = p_donor AND d.erased_at IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO ingest.tombstones (ref_hash, donor_id)
    SELECT ingest.ref_hash(r.source, r.ref), p_donor FROM ingest.donor_refs r WHERE r.donor_id = p_donor
  ON CONFLICT (ref_hash) DO UPDATE SET donor_id = excluded.donor_id, erased_at = now();
    UPDATE ingest.inbox i SET raw = NULL, donor_ref = NULL
    FROM ingest.donor_refs r WHERE r.donor_id = p_donor AND i.source = r.source AND i.donor_ref = r.ref;
  DELETE FROM ingest.donor_refs WHERE donor_id = p_donor;
  DELETE FROM pii.donor_pii WHERE donor_id = p_donor;
  DELETE FROM donor.audit_attributes WHERE donor_id = p_donor;
  DELETE FROM donor.consents WHERE donor_id = p_donor;
  DELETE FROM donor.consent_history WHERE donor_id = p_donor;
  DELETE FROM donor.appeals WHERE donor_id = p_donor;
  -- Records merged into this one describe the same person.
  UPDATE donor.donors
    SET ref = NULL, language = NULL, country = NULL, tags = '{}', erased_at = now(), modified_at = now()
    WHERE id = p_donor OR merged_into = p_donor;
  INSERT INTO gabe.audit_log (service, actor, action, entity, details)
        VALUES ('ingest', p_actor, 'donor.erase', 'donor:' || p_donor,
            CASE WHEN p_reason IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('reason', p_reason) END);
  RETURN true;
END
$$;

-- A ref that stops resolving without erasing the donor it resolves to (a merged-away
-- duplicate the CRM deleted): tombstoned, and its raw events scrubbed.
CREATE FUNCTION ingest.retire_ref(p_source text, p_ref text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ingest.tombstones (ref_hash, donor_id)
    SELECT ingest.ref_hash(r.source, r.ref), r.donor_id FROM ingest.donor_refs r
    WHERE r.source = p_source AND r.ref = p_ref
  ON CONFLICT (ref_hash) DO NOTHING;
  UPDATE ingest.inbox SET raw = NULL, donor_ref = NULL WHERE source = p_source AND donor_ref = p_ref;
  DELETE FROM ingest.donor_refs WHERE source = p_source AND ref = p_ref;
  UPDATE donor.donors SET ref = NULL, modified_at = now()
    WHERE source = p_source AND ref = p_ref AND merged_into IS NOT NULL;
END
$$;

-- Grants. Scoring reads behaviour only; segments also reads PII for consented exports.
GRANT USAGE ON SCHEMA donor, pii, ingest TO gabe_ingest;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA donor, pii, ingest TO gabe_ingest;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA donor, pii, ingest TO gabe_ingest;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ingest TO gabe_ingest;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA ingest FROM PUBLIC;

GRANT USAGE ON SCHEMA donor TO gabe_scoring, gabe_segments;
GRANT SELECT ON ALL TABLES IN SCHEMA donor TO gabe_scoring, gabe_segments;
GRANT USAGE ON SCHEMA pii TO gabe_segments;
GRANT SELECT ON pii.donor_pii TO gabe_segments;
