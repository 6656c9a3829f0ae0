-- A proposal's version at the moment its project's maintainer took it up (its first accepted
-- status). From then on the proposal stays about that project: an edit that moves its subject
-- is rejected, and a deletion, an invalid replacement or the author's deactivation withdraws it
-- from lists without losing it, because money may be held under its terms. This is the
-- AppView's memory, like escrow's terms: the network keeps only a record's latest version, so
-- a rebuild keeps these rows.
CREATE TABLE appview.proposal_anchor (
    uri         text PRIMARY KEY,
    did         text NOT NULL,
    cid         text NOT NULL,
    body        jsonb NOT NULL,
    subject_uri text NOT NULL,
    created_at  timestamptz NOT NULL,
    indexed_at  timestamptz NOT NULL,
    anchored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX proposal_anchor_subject_idx ON appview.proposal_anchor (subject_uri);

ALTER TABLE appview.proposal_state
    -- Derived from the anchor because the author deleted, hid or invalidated the record: kept
    -- out of lists, still served by getProposal and still settled by escrow.
    ADD COLUMN withdrawn boolean NOT NULL DEFAULT false,
    -- The body and subject come from the anchor (withdrawn, or the record's subject moved).
    ADD COLUMN from_anchor boolean NOT NULL DEFAULT false;
