-- Retainers: a company (the client) pays a maintainer each period, paid out at once minus the
-- fee, through the same ledger as donations (provider_clearing → payable:<maintainer>).
--
-- The agreement's state follows `greenlight_funding::retainer::apply`, the one guarded
-- transition: escrow stores the rules' `Agreement` as columns and writes only what `apply`
-- returned. Periods are counted on the billing calendar (`escrow::billing_clock`): real days,
-- or shorter ones when a test sets GREENLIGHT_ESCROW_BILLING_DAY_SECONDS.
CREATE TABLE escrow.retainer_agreement (
    id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    offer text NOT NULL,
    offer_cid text NOT NULL,
    client text NOT NULL,
    maintainer text NOT NULL,
    -- The terms in force and the next period's, as the rules hold them.
    tier text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    period text NOT NULL CHECK (period IN ('month', 'year')),
    next_tier text,
    next_amount bigint CHECK (next_amount > 0),
    collection text NOT NULL CHECK (collection IN ('invoice', 'card')),
    -- The client as invoiced: legal name, address, tax id, purchase order, email.
    billing jsonb NOT NULL,
    -- Whether the client asked to be named in public: otherwise the feeds carry no DID of theirs.
    listed boolean NOT NULL,
    fee_bps integer NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
    state text NOT NULL CHECK (state IN ('requested', 'quoted', 'active', 'past_due', 'cancelling', 'ended', 'lapsed')),
    failed_retries smallint NOT NULL DEFAULT 0 CHECK (failed_retries >= 0),
    -- The billing day the current period's payment first failed (the retry schedule counts from it).
    first_failure_on date,
    anchor date,
    period_offset_months integer NOT NULL DEFAULT 0 CHECK (period_offset_months >= 0),
    periods integer NOT NULL DEFAULT 0 CHECK (periods >= 0),
    current_paid boolean NOT NULL DEFAULT false,
    quote_number text UNIQUE,
    -- The quote as issued: immutable once written (trigger below).
    quote_document jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    -- The public feed of agreement states (listRetainerStates), as for proposals.
    seq bigint UNIQUE,
    dirty boolean NOT NULL DEFAULT true
);
CREATE INDEX retainer_agreement_client ON escrow.retainer_agreement (client);
CREATE INDEX retainer_agreement_maintainer ON escrow.retainer_agreement (maintainer);
CREATE INDEX retainer_agreement_in_force ON escrow.retainer_agreement (id)
    WHERE state IN ('active', 'past_due', 'cancelling');
CREATE INDEX retainer_agreement_dirty ON escrow.retainer_agreement (id) WHERE dirty;
CREATE SEQUENCE escrow.retainer_seq;

-- One invoice per period, numbered from one sequence per year: GL-<year>-<n>. Its amounts and
-- document never change once issued; only its state moves (open → paid, or void).
CREATE TABLE escrow.retainer_invoice (
    number text PRIMARY KEY,
    agreement text NOT NULL REFERENCES escrow.retainer_agreement (id),
    period_index integer NOT NULL CHECK (period_index >= 1),
    period_start date NOT NULL,
    period_end date NOT NULL CHECK (period_end > period_start),
    tier text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    fee bigint NOT NULL CHECK (fee >= 0),
    payout bigint NOT NULL CHECK (payout >= 0 AND fee + payout = amount),
    currency text NOT NULL,
    state text NOT NULL CHECK (state IN ('open', 'paid', 'void')),
    -- What the document says, frozen at issue: its HTML and PDF are rendered from this alone.
    document jsonb NOT NULL,
    issued_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    paid_at timestamptz,
    UNIQUE (agreement, period_index)
);
CREATE SEQUENCE escrow.invoice_number;
CREATE SEQUENCE escrow.quote_number;

CREATE FUNCTION escrow.invoice_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'invoice % is issued: it cannot be deleted', OLD.number;
    END IF;
    IF (NEW.number, NEW.agreement, NEW.period_index, NEW.period_start, NEW.period_end, NEW.tier,
        NEW.amount, NEW.fee, NEW.payout, NEW.currency, NEW.document, NEW.issued_at)
       IS DISTINCT FROM
       (OLD.number, OLD.agreement, OLD.period_index, OLD.period_start, OLD.period_end, OLD.tier,
        OLD.amount, OLD.fee, OLD.payout, OLD.currency, OLD.document, OLD.issued_at) THEN
        RAISE EXCEPTION 'invoice % is issued: only its state may change', OLD.number;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER invoice_immutable BEFORE UPDATE OR DELETE ON escrow.retainer_invoice
    FOR EACH ROW EXECUTE FUNCTION escrow.invoice_immutable();

CREATE FUNCTION escrow.quote_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.quote_document IS NOT NULL AND NEW.quote_document IS DISTINCT FROM OLD.quote_document THEN
        RAISE EXCEPTION 'quote % is issued: it cannot change', OLD.quote_number;
    END IF;
    IF OLD.quote_number IS NOT NULL AND NEW.quote_number IS DISTINCT FROM OLD.quote_number THEN
        RAISE EXCEPTION 'quote % is issued: it cannot be renumbered', OLD.quote_number;
    END IF;
    IF NEW.seq IS NOT DISTINCT FROM OLD.seq THEN
        NEW.dirty := true;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER quote_immutable BEFORE UPDATE ON escrow.retainer_agreement
    FOR EACH ROW EXECUTE FUNCTION escrow.quote_immutable();

-- Each try at collecting an invoice: the first when it is issued, then one per retry. The
-- provider call's idempotency key is `<invoice>:attempt:<n>`, so a crash between the call and
-- this row finds the same payment again.
CREATE TABLE escrow.retainer_attempt (
    invoice text NOT NULL REFERENCES escrow.retainer_invoice (number),
    attempt integer NOT NULL CHECK (attempt >= 0),
    provider text NOT NULL,
    payment_id text NOT NULL,
    checkout_url text NOT NULL,
    state text NOT NULL CHECK (state IN ('open', 'succeeded', 'failed')),
    opened_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (invoice, attempt),
    UNIQUE (provider, payment_id)
);
CREATE INDEX retainer_attempt_open ON escrow.retainer_attempt (due_at) WHERE state = 'open';

-- Which agreement and invoice a ledger transfer belongs to (the ledger's own columns predate
-- retainers); written in the transaction that creates the transfer.
CREATE TABLE escrow.retainer_transfer (
    transfer_id text PRIMARY KEY REFERENCES escrow.transfer (id),
    agreement text NOT NULL REFERENCES escrow.retainer_agreement (id),
    invoice text NOT NULL REFERENCES escrow.retainer_invoice (number)
);
CREATE INDEX retainer_transfer_agreement ON escrow.retainer_transfer (agreement);

-- Money a retainer attempt brought that no period can take (the invoice was already paid or is
-- void, or another amount arrived) is returned in full, like a mismatched pledge payment; the
-- row names the invoice. Such money may match what was asked for: it is the period that is
-- missing, not the amount.
ALTER TABLE escrow.mismatched_payment
    ADD COLUMN invoice text REFERENCES escrow.retainer_invoice (number),
    DROP CONSTRAINT mismatched_payment_check,
    DROP CONSTRAINT mismatched_payment_check3,
    ADD CONSTRAINT mismatched_payment_one_subject CHECK (num_nonnulls(pledge, donation, invoice) = 1),
    ADD CONSTRAINT mismatched_payment_differs CHECK (invoice IS NOT NULL
        OR received_amount <> expected_amount OR received_currency <> expected_currency);

-- Payout jobs of a retainer period name their invoice.
ALTER TABLE escrow.job ADD COLUMN invoice text REFERENCES escrow.retainer_invoice (number);

CREATE FUNCTION escrow.publish_retainer_states() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7420116);
    WITH changed AS (
        SELECT id FROM escrow.retainer_agreement WHERE dirty ORDER BY id FOR UPDATE
    )
    UPDATE escrow.retainer_agreement a SET seq = nextval('escrow.retainer_seq'), dirty = false
    FROM changed c WHERE a.id = c.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
