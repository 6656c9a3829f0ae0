-- Derived state the AppView serves: what greenlight-funding's rules make of the records, and
-- what the escrow's public ledger feed says about money. All of it is recomputable from
-- `appview.record` and `appview.escrow_entry`; a test checks the incremental upkeep against a
-- recomputation from scratch.

-- One row per visible proposal: its stage, history and estimate totals.
CREATE TABLE appview.proposal_state (
    uri                text PRIMARY KEY,
    did                text NOT NULL,
    cid                text NOT NULL,
    -- The project record the proposal is about (strongRef subject), if any.
    project_uri        text,
    -- The repository: the proposal's own `#repository` subject or its project's repository.
    repository         text,
    stage              text NOT NULL,
    currency           text NOT NULL,
    goal               bigint,
    estimate_count     bigint NOT NULL,
    estimate_total     bigint NOT NULL,
    capped_count       bigint NOT NULL,
    preview_started_at timestamptz,
    -- Accepted status records oldest first: [{stage, uri, author, createdAt}].
    history            jsonb NOT NULL,
    preview            jsonb,
    release            jsonb,
    decline_reason     text,
    released_at        timestamptz,
    search             tsvector NOT NULL,
    created_at         timestamptz NOT NULL,
    indexed_at         timestamptz NOT NULL
);
CREATE INDEX proposal_state_project_idx ON appview.proposal_state (project_uri, estimate_total DESC, uri DESC);
CREATE INDEX proposal_state_repository_idx ON appview.proposal_state (repository);
CREATE INDEX proposal_state_top_idx ON appview.proposal_state (estimate_total DESC, uri DESC);
CREATE INDEX proposal_state_new_idx ON appview.proposal_state (created_at DESC, uri DESC);
CREATE INDEX proposal_state_did_idx ON appview.proposal_state (did);
CREATE INDEX proposal_state_search_idx ON appview.proposal_state USING gin (search);

-- How each visible estimate counts (see greenlight_funding::EstimateVerdict).
CREATE TABLE appview.estimate_state (
    uri          text PRIMARY KEY,
    proposal_uri text NOT NULL,
    did          text NOT NULL,
    counted      bigint NOT NULL,
    capped       boolean NOT NULL,
    frozen       boolean NOT NULL,
    -- False when a newer estimate by the same author takes its place.
    current      boolean NOT NULL,
    created_at   timestamptz NOT NULL
);
-- Not partial: recomputing a proposal deletes all of its rows.
CREATE INDEX estimate_state_proposal_idx ON appview.estimate_state (proposal_uri, created_at DESC, uri DESC);
CREATE INDEX estimate_state_did_idx ON appview.estimate_state (did) WHERE current;

-- The escrow's public ledger feed, latest state per entry id.
CREATE TABLE appview.escrow_entry (
    id         text PRIMARY KEY,
    seq        bigint NOT NULL,
    kind       text NOT NULL,
    state      text NOT NULL,
    currency   text NOT NULL,
    amount     bigint NOT NULL,
    proposal   text,
    pledge     text,
    donation   text,
    backer     text,
    debit_account  text NOT NULL,
    credit_account text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX escrow_entry_proposal_idx ON appview.escrow_entry (proposal) WHERE proposal IS NOT NULL;
CREATE INDEX escrow_entry_pledge_idx ON appview.escrow_entry (pledge) WHERE pledge IS NOT NULL;
CREATE INDEX escrow_entry_backer_idx ON appview.escrow_entry (backer) WHERE backer IS NOT NULL;

-- Each pledge escrow knows of, with the state the feed implies: `pledge_hold` entries carry
-- the pledge (voided: the payment failed), a non-voided `refund` returns it, and a proposal's
-- payout (`pledge_capture`, or a fee taken from its held account) pays every pledge still held.
CREATE VIEW appview.escrow_pledge AS
SELECT h.pledge AS id, h.proposal, h.backer, h.currency, h.amount, h.created_at,
    CASE
        WHEN h.state = 'voided' THEN 'cancelled'
        WHEN EXISTS (SELECT 1 FROM appview.escrow_entry r
                     WHERE r.pledge = h.pledge AND r.kind = 'refund' AND r.state <> 'voided')
            THEN 'refunded'
        WHEN h.state = 'pending' THEN 'pending'
        WHEN EXISTS (SELECT 1 FROM appview.escrow_entry c
                     WHERE c.proposal = h.proposal AND c.state <> 'voided'
                       AND (c.kind = 'pledge_capture'
                            OR (c.kind = 'fee' AND c.debit_account LIKE 'held:%')))
            THEN 'paid'
        ELSE 'held'
    END AS state
FROM appview.escrow_entry h
WHERE h.kind = 'pledge_hold' AND h.pledge IS NOT NULL;

-- Money per proposal, from escrow_entry.
CREATE TABLE appview.proposal_money (
    proposal     text PRIMARY KEY,
    currency     text NOT NULL,
    pledged_held bigint NOT NULL,
    paid_out     bigint NOT NULL,
    refunded     bigint NOT NULL,
    donations    bigint NOT NULL,
    pledge_count bigint NOT NULL,
    backer_count bigint NOT NULL
);

-- A person's successful contributions per currency, from escrow_entry; they set estimate caps.
CREATE TABLE appview.contribution (
    did        text NOT NULL,
    currency   text NOT NULL,
    largest    bigint NOT NULL,
    total_paid bigint NOT NULL,
    donations  bigint NOT NULL,
    PRIMARY KEY (did, currency)
);

-- Lists of projects by maintainer, newest first.
CREATE INDEX record_project_idx ON appview.record (created_at DESC, uri DESC)
    WHERE collection = 'fund.greenlight.project' AND NOT hidden;
