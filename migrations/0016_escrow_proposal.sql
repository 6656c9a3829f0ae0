-- Escrow's public proposal states (`fund.greenlight.escrow.listProposalStates`), the latest
-- per proposal: the terms escrow fixed when the first money arrived (payee, currency, fee) and
-- escrow's own clock for verification. Views show these rather than what the records claim,
-- because a release record can be deleted or backdated after escrow started verification and
-- escrow keeps its clock regardless. Like `escrow_entry` this is a copy of an outside source,
-- not derived from records, so rebuilding the aggregates leaves it alone.
CREATE TABLE appview.escrow_proposal (
    proposal                text PRIMARY KEY,
    -- Feed position of this state: a replayed or older state never replaces a newer one.
    seq                     bigint NOT NULL,
    project                 text NOT NULL,
    payee                   text NOT NULL,
    currency                text NOT NULL,
    fee_basis_points        integer NOT NULL,
    preview_ends_at         timestamptz,
    stage                   text NOT NULL,
    verification_started_at timestamptz,
    verification_ends_at    timestamptz,
    open_disputes           integer NOT NULL DEFAULT 0,
    -- 'payout' or 'refund' once the held money was settled.
    settlement              text,
    terms_fixed_at          timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);
