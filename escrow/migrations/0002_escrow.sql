-- What the ledger's money belongs to: proposals as escrow last learned them from the AppView,
-- pledges, donations, disputes, payout accounts; and the machinery that makes every call
-- safe to repeat: idempotency keys, webhook events, durable jobs.

CREATE TABLE escrow.proposal (
    uri text PRIMARY KEY,
    cid text NOT NULL,
    stage text NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    maintainer text,
    preview_ends_at timestamptz,
    -- When escrow first saw the release: the verification period runs from here.
    released_at timestamptz,
    verification_ends_at timestamptz,
    -- NULL while undecided; 'payout' or 'refund' once the held money was settled.
    settlement text CHECK (settlement IN ('payout', 'refund')),
    settled_at timestamptz,
    synced_at timestamptz NOT NULL
);

CREATE TABLE escrow.pledge (
    id text PRIMARY KEY,
    proposal text NOT NULL REFERENCES escrow.proposal (uri),
    proposal_cid text NOT NULL,
    backer text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'held', 'cancelled', 'refunded', 'paid_out', 'failed')),
    provider text NOT NULL,
    payment_id text,
    checkout_url text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX pledge_proposal ON escrow.pledge (proposal, state);
CREATE INDEX pledge_backer ON escrow.pledge (backer, currency, state);
CREATE UNIQUE INDEX pledge_payment ON escrow.pledge (provider, payment_id);

CREATE TABLE escrow.donation (
    id text PRIMARY KEY,
    proposal text NOT NULL REFERENCES escrow.proposal (uri),
    proposal_cid text NOT NULL,
    donor text NOT NULL,
    maintainer text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL,
    fee bigint CHECK (fee >= 0),
    state text NOT NULL CHECK (state IN ('pending', 'received', 'paid_out', 'failed')),
    provider text NOT NULL,
    payment_id text,
    checkout_url text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX donation_donor ON escrow.donation (donor, currency, state);
CREATE UNIQUE INDEX donation_payment ON escrow.donation (provider, payment_id);

CREATE TABLE escrow.dispute (
    id text PRIMARY KEY,
    proposal text NOT NULL REFERENCES escrow.proposal (uri),
    proposal_cid text NOT NULL,
    filer text NOT NULL,
    reason text NOT NULL,
    evidence jsonb,
    state text NOT NULL CHECK (state IN ('open', 'upheld', 'rejected')),
    resolution_note text,
    created_at timestamptz NOT NULL,
    resolved_at timestamptz
);
CREATE UNIQUE INDEX dispute_one_open ON escrow.dispute (proposal, filer) WHERE state = 'open';

CREATE TABLE escrow.payout_account (
    did text NOT NULL,
    provider text NOT NULL,
    account_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'active', 'restricted')),
    onboarding_url text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (did, provider),
    UNIQUE (provider, account_id)
);

-- A procedure call's first answer, replayed for the same (caller, key) and body.
CREATE TABLE escrow.idempotency_key (
    caller text NOT NULL,
    key text NOT NULL,
    method text NOT NULL,
    request_hash bytea NOT NULL,
    response jsonb,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (caller, key)
);

-- Webhook events already applied, by the provider's event id.
CREATE TABLE escrow.webhook_event (
    provider text NOT NULL,
    event_id text NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- Durable steps of moving money out: a refund to one backer or a payout to one maintainer.
-- ready -> reserved (pending ledger transfer written) -> done (provider confirmed, posted);
-- awaiting_account: a payout waits for the maintainer's payout account, never expiring;
-- failed: the provider refused for good; the pending transfer is voided and an operator looks.
CREATE TABLE escrow.job (
    id text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('refund', 'payout')),
    state text NOT NULL CHECK (state IN ('awaiting_account', 'ready', 'reserved', 'done', 'failed')),
    currency text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    -- The ledger transfer this job makes; its id is the provider's idempotency key.
    transfer_id text NOT NULL UNIQUE,
    debit_account text NOT NULL,
    proposal text,
    pledge text,
    donation text,
    backer text,
    maintainer text,
    payment_id text,
    provider_ref text,
    attempts int NOT NULL DEFAULT 0,
    run_after timestamptz NOT NULL,
    last_error text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX job_runnable ON escrow.job (run_after) WHERE state IN ('ready', 'reserved');
CREATE INDEX job_maintainer ON escrow.job (maintainer) WHERE state = 'awaiting_account';
