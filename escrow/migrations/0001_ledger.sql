-- The escrow ledger: double-entry, append-only, integer minor units, one ledger per currency.
--
-- Modelled on TigerBeetle: an account has limit flags; a transfer debits one account and
-- credits another of the same ledger; a transfer's id is its idempotency key; a two-phase
-- transfer is created pending (its amount reserved) and later posted or voided. Nothing here
-- is ever updated or deleted: a state change is a new row in transfer_state. Balances are
-- derived from the entries, never stored.
CREATE SCHEMA IF NOT EXISTS escrow;

CREATE TABLE escrow.account (
    ledger text NOT NULL CHECK (ledger ~ '^[A-Z]{3}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 1024),
    -- TigerBeetle's flags: a liability (held, payable, refunds, fees) can never be overdrawn;
    -- provider_clearing, the boundary with the outside world, has no limit.
    debits_must_not_exceed_credits boolean NOT NULL,
    credits_must_not_exceed_debits boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ledger, name),
    CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits))
);

CREATE TABLE escrow.transfer (
    id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    ledger text NOT NULL,
    debit_account text NOT NULL,
    credit_account text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    kind text NOT NULL,
    two_phase boolean NOT NULL,
    proposal text,
    pledge text,
    donation text,
    backer text,
    maintainer text,
    created_at timestamptz NOT NULL,
    FOREIGN KEY (ledger, debit_account) REFERENCES escrow.account (ledger, name),
    FOREIGN KEY (ledger, credit_account) REFERENCES escrow.account (ledger, name),
    CHECK (debit_account <> credit_account)
);
CREATE INDEX transfer_debit ON escrow.transfer (ledger, debit_account) INCLUDE (amount);
CREATE INDEX transfer_credit ON escrow.transfer (ledger, credit_account) INCLUDE (amount);
CREATE INDEX transfer_proposal ON escrow.transfer (proposal) WHERE proposal IS NOT NULL;

-- Every transfer gets a first row (pending or posted) in the transaction that creates it; a
-- two-phase transfer later gets exactly one final row (posted or voided).
CREATE TABLE escrow.transfer_state (
    id bigserial PRIMARY KEY,
    transfer_id text NOT NULL REFERENCES escrow.transfer (id),
    state text NOT NULL CHECK (state IN ('pending', 'posted', 'voided')),
    at timestamptz NOT NULL,
    -- The writing transaction, so the feed publisher knows which rows may still appear.
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (transfer_id, state)
);
CREATE UNIQUE INDEX transfer_state_final ON escrow.transfer_state (transfer_id)
    WHERE state IN ('posted', 'voided');
CREATE INDEX transfer_state_xid ON escrow.transfer_state (xid);

-- The public feed: every transfer_state row under a seq assigned in commit order by a single
-- publisher, so a follower's cursor never skips a row that committed late.
CREATE TABLE escrow.ledger_feed (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    state_id bigint NOT NULL UNIQUE REFERENCES escrow.transfer_state (id)
);
CREATE TABLE escrow.feed_publisher (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- Every transfer_state row written by a transaction older than this is in the feed.
    published_below xid8 NOT NULL,
    last_seq bigint NOT NULL
);
INSERT INTO escrow.feed_publisher (published_below, last_seq) VALUES ('0'::xid8, 0);

CREATE FUNCTION escrow.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'escrow.% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;
CREATE TRIGGER account_append_only BEFORE UPDATE OR DELETE ON escrow.account
    FOR EACH ROW EXECUTE FUNCTION escrow.refuse_change();
CREATE TRIGGER transfer_append_only BEFORE UPDATE OR DELETE ON escrow.transfer
    FOR EACH ROW EXECUTE FUNCTION escrow.refuse_change();
CREATE TRIGGER transfer_state_append_only BEFORE UPDATE OR DELETE ON escrow.transfer_state
    FOR EACH ROW EXECUTE FUNCTION escrow.refuse_change();
CREATE TRIGGER ledger_feed_append_only BEFORE UPDATE OR DELETE ON escrow.ledger_feed
    FOR EACH ROW EXECUTE FUNCTION escrow.refuse_change();
CREATE TRIGGER account_no_truncate BEFORE TRUNCATE ON escrow.account
    FOR EACH STATEMENT EXECUTE FUNCTION escrow.refuse_change();
CREATE TRIGGER transfer_no_truncate BEFORE TRUNCATE ON escrow.transfer
    FOR EACH STATEMENT EXECUTE FUNCTION escrow.refuse_change();
CREATE TRIGGER transfer_state_no_truncate BEFORE TRUNCATE ON escrow.transfer_state
    FOR EACH STATEMENT EXECUTE FUNCTION escrow.refuse_change();
CREATE TRIGGER ledger_feed_no_truncate BEFORE TRUNCATE ON escrow.ledger_feed
    FOR EACH STATEMENT EXECUTE FUNCTION escrow.refuse_change();

-- A transfer with its current state: pending until a final row exists.
CREATE VIEW escrow.transfer_current AS
SELECT t.*, coalesce(f.state, 'pending') AS state
FROM escrow.transfer t
LEFT JOIN escrow.transfer_state f
    ON f.transfer_id = t.id AND f.state IN ('posted', 'voided');

-- Balances derived from the entries, in TigerBeetle's four columns.
CREATE VIEW escrow.account_balance AS
SELECT a.ledger, a.name, a.debits_must_not_exceed_credits, a.credits_must_not_exceed_debits,
    coalesce(sum(m.amount) FILTER (WHERE m.side = 'debit' AND m.state = 'pending'), 0)::bigint AS debits_pending,
    coalesce(sum(m.amount) FILTER (WHERE m.side = 'debit' AND m.state = 'posted'), 0)::bigint AS debits_posted,
    coalesce(sum(m.amount) FILTER (WHERE m.side = 'credit' AND m.state = 'pending'), 0)::bigint AS credits_pending,
    coalesce(sum(m.amount) FILTER (WHERE m.side = 'credit' AND m.state = 'posted'), 0)::bigint AS credits_posted
FROM escrow.account a
LEFT JOIN (
    SELECT ledger, debit_account AS name, 'debit' AS side, amount, state FROM escrow.transfer_current
    UNION ALL
    SELECT ledger, credit_account AS name, 'credit' AS side, amount, state FROM escrow.transfer_current
) m ON m.ledger = a.ledger AND m.name = a.name
GROUP BY a.ledger, a.name, a.debits_must_not_exceed_credits, a.credits_must_not_exceed_debits;

-- Which limit an account gets follows from its name, so every writer agrees.
CREATE FUNCTION escrow.debit_limited(p_name text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT p_name = 'platform_fees' OR p_name LIKE 'held:%' OR p_name LIKE 'payable:%'
        OR p_name LIKE 'refunds:%'
$$;

-- What a limited account can still be debited: posted credits minus debits not voided
-- (posted or pending, since a pending debit reserves its amount).
CREATE FUNCTION escrow.available_to_debit(p_ledger text, p_name text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT (SELECT coalesce(sum(t.amount), 0) FROM escrow.transfer t
            WHERE t.ledger = p_ledger AND t.credit_account = p_name
              AND EXISTS (SELECT 1 FROM escrow.transfer_state s
                          WHERE s.transfer_id = t.id AND s.state = 'posted'))
         - (SELECT coalesce(sum(t.amount), 0) FROM escrow.transfer t
            WHERE t.ledger = p_ledger AND t.debit_account = p_name
              AND NOT EXISTS (SELECT 1 FROM escrow.transfer_state s
                              WHERE s.transfer_id = t.id AND s.state = 'voided'))
$$;

-- The one way money moves. Returns 'created', 'exists' (same id and fields: an idempotent
-- replay), 'exists_with_different_fields', 'exceeds_credits' (the debit account would be
-- overdrawn) or 'exceeds_debits'.
CREATE FUNCTION escrow.create_transfer(
    p_id text, p_ledger text, p_debit text, p_credit text, p_amount bigint, p_kind text,
    p_two_phase boolean, p_proposal text, p_pledge text, p_donation text, p_backer text,
    p_maintainer text, p_at timestamptz
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    existing escrow.transfer%ROWTYPE;
    known int;
    inserted int;
BEGIN
    SELECT count(*) INTO known FROM escrow.account
        WHERE ledger = p_ledger AND name IN (p_debit, p_credit);
    IF known < 2 THEN
        -- New accounts are inserted in name order, so two transfers creating the same two
        -- accounts from opposite sides cannot deadlock.
        INSERT INTO escrow.account (ledger, name, debits_must_not_exceed_credits, credits_must_not_exceed_debits)
        SELECT p_ledger, n, escrow.debit_limited(n), false
        FROM unnest(ARRAY[p_debit, p_credit]) AS n
        ORDER BY n
        ON CONFLICT DO NOTHING;
    END IF;
    -- An account's limit follows from its name (checked by reconcile), so no lookup is needed.
    IF escrow.debit_limited(p_debit) THEN
        SELECT * INTO existing FROM escrow.transfer WHERE id = p_id;
        IF FOUND THEN
            RETURN escrow.compare_transfer(existing, p_ledger, p_debit, p_credit, p_amount, p_kind, p_two_phase);
        END IF;
        -- Only debits of a limited account lock it, so inflows never queue behind each other.
        PERFORM 1 FROM escrow.account WHERE ledger = p_ledger AND name = p_debit FOR UPDATE;
        IF escrow.available_to_debit(p_ledger, p_debit) < p_amount THEN
            RETURN 'exceeds_credits';
        END IF;
    END IF;
    INSERT INTO escrow.transfer (id, ledger, debit_account, credit_account, amount, kind, two_phase,
        proposal, pledge, donation, backer, maintainer, created_at)
    VALUES (p_id, p_ledger, p_debit, p_credit, p_amount, p_kind, p_two_phase,
        p_proposal, p_pledge, p_donation, p_backer, p_maintainer, p_at)
    ON CONFLICT (id) DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = 0 THEN
        -- Created before (a replay), or by a concurrent writer whose commit we waited for.
        SELECT * INTO existing FROM escrow.transfer WHERE id = p_id;
        RETURN escrow.compare_transfer(existing, p_ledger, p_debit, p_credit, p_amount, p_kind, p_two_phase);
    END IF;
    INSERT INTO escrow.transfer_state (transfer_id, state, at)
    VALUES (p_id, CASE WHEN p_two_phase THEN 'pending' ELSE 'posted' END, p_at);
    RETURN 'created';
END
$$;

CREATE FUNCTION escrow.compare_transfer(
    existing escrow.transfer, p_ledger text, p_debit text, p_credit text, p_amount bigint,
    p_kind text, p_two_phase boolean
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN existing.ledger = p_ledger AND existing.debit_account = p_debit
        AND existing.credit_account = p_credit AND existing.amount = p_amount
        AND existing.kind = p_kind AND existing.two_phase = p_two_phase
        THEN 'exists' ELSE 'exists_with_different_fields' END
$$;

-- Posts or voids a pending transfer. Returns 'done', 'exists' (already in that state),
-- 'already_posted', 'already_voided', 'not_two_phase' or 'not_found'.
CREATE FUNCTION escrow.finish_transfer(p_id text, p_state text, p_at timestamptz)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    two bool;
    final text;
BEGIN
    IF p_state NOT IN ('posted', 'voided') THEN
        RAISE EXCEPTION 'a transfer finishes posted or voided, not %', p_state;
    END IF;
    -- Serialises a post racing a void of the same transfer.
    SELECT two_phase INTO two FROM escrow.transfer WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF NOT two THEN
        RETURN 'not_two_phase';
    END IF;
    SELECT state INTO final FROM escrow.transfer_state
        WHERE transfer_id = p_id AND state IN ('posted', 'voided');
    IF FOUND THEN
        RETURN CASE WHEN final = p_state THEN 'exists' ELSE 'already_' || final END;
    END IF;
    INSERT INTO escrow.transfer_state (transfer_id, state, at) VALUES (p_id, p_state, p_at);
    RETURN 'done';
END
$$;

-- Moves every committed, unpublished transfer_state row into the feed, in commit order.
-- Returns how many rows it published.
CREATE FUNCTION escrow.publish_feed() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    lo xid8;
    horizon xid8;
    last bigint;
    n bigint;
BEGIN
    -- One publisher at a time: seqs are handed out in the order publishers commit.
    PERFORM pg_advisory_xact_lock(7420113);
    -- Taken before the scan: every transaction older than this has finished, so the scan
    -- below sees all its rows; the next scan starts here.
    horizon := pg_snapshot_xmin(pg_current_snapshot());
    SELECT published_below, last_seq INTO lo, last FROM escrow.feed_publisher FOR UPDATE;
    INSERT INTO escrow.ledger_feed (seq, state_id)
    SELECT last + row_number() OVER (ORDER BY s.id), s.id
    FROM escrow.transfer_state s
    WHERE s.xid >= lo
      AND NOT EXISTS (SELECT 1 FROM escrow.ledger_feed f WHERE f.state_id = s.id);
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE escrow.feed_publisher
        SET published_below = greatest(lo, horizon), last_seq = last + n;
    RETURN n;
END
$$;
