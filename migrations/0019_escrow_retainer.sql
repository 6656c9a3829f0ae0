-- Escrow's public retainer agreement states (`fund.greenlight.escrow.listRetainerStates`), the
-- latest per agreement. A client's `fund.greenlight.retainer` record counts only as far as this
-- table confirms its agreement: the tier, price and state in force are escrow's, and the client
-- is named only when escrow says they asked to be listed (`client` is NULL otherwise). Like
-- `escrow_entry` and `escrow_proposal` this is a copy of an outside source, not derived from
-- records, so rebuilding the aggregates leaves it alone.
CREATE TABLE appview.escrow_retainer (
    agreement              text PRIMARY KEY,
    -- Feed position of this state: a replayed or older state never replaces a newer one.
    seq                    bigint NOT NULL,
    -- The offer's at-uri.
    offer                  text NOT NULL,
    maintainer             text NOT NULL,
    -- The client's DID, only when they asked to be listed.
    client                 text,
    tier                   text NOT NULL,
    amount                 bigint NOT NULL,
    currency               text NOT NULL,
    -- 'month' or 'year'.
    period                 text NOT NULL,
    -- requested, quoted, active, past_due, cancelling, ended or lapsed.
    state                  text NOT NULL,
    paid_periods           bigint NOT NULL,
    current_period_ends_at timestamptz,
    updated_at             timestamptz NOT NULL
);
-- A maintainer's agreements (totals, their page) and an offer's (client counts).
CREATE INDEX escrow_retainer_maintainer_idx ON appview.escrow_retainer (maintainer);
CREATE INDEX escrow_retainer_offer_idx ON appview.escrow_retainer (offer);

-- Ledger entries of a retainer period (`retainer_payment`, its `fee` and `payout`) name their
-- agreement.
ALTER TABLE appview.escrow_entry ADD COLUMN agreement text;
CREATE INDEX escrow_entry_agreement_idx ON appview.escrow_entry (agreement)
    WHERE agreement IS NOT NULL;
-- A maintainer's retainer income is summed by the account it is paid into.
CREATE INDEX escrow_entry_retainer_account_idx ON appview.escrow_entry (credit_account, debit_account)
    WHERE agreement IS NOT NULL;

-- Clients' retainer records are found by the agreement they claim.
CREATE INDEX record_retainer_receipt_idx ON appview.record ((body->>'receipt'))
    WHERE collection = 'fund.greenlight.retainer';
