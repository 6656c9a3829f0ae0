-- Firehose commits kept aside because their author's signing key could not be had in time
-- (indexer/src/parking.rs). A commit is parked in the batch that moves the source cursor past
-- it, and leaves in the transaction that applies its replay, so it counts exactly once. While
-- a repo has parked commits, its later ones are parked behind them: order per repo is kept.
CREATE TABLE appview.parked_event (
    source    text NOT NULL,
    -- The frame's firehose sequence number: replays come in this order.
    seq       bigint NOT NULL,
    did       text NOT NULL,
    -- The frame as received; it is judged (signature, proof, rules) again on replay.
    frame     bytea NOT NULL,
    reason    text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, seq)
);
CREATE INDEX parked_event_did_idx ON appview.parked_event (source, did, seq);
