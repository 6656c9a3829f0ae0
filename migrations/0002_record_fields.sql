-- Parsed fields of records that the AppView filters, joins and sums on, so that its queries
-- (totals per proposal, lists by project or stage) never have to dig into `body`.
ALTER TABLE appview.record
    -- The CID half of the `subject` strongRef (the uri half is `subject_uri`).
    ADD COLUMN subject_cid text,
    -- estimate and pledge: the amount in the currency's minor units.
    ADD COLUMN amount      bigint,
    -- estimate, pledge, project, and a status's #development stage: upper-case ISO 4217.
    ADD COLUMN currency    text,
    -- status: the stage union's `$type` (e.g. `fund.greenlight.status#preview`).
    ADD COLUMN stage       text,
    -- True while the author's account is inactive (deactivated, taken down, ...). Hidden
    -- records are kept so that reactivation brings them back without a re-crawl.
    ADD COLUMN hidden      boolean NOT NULL DEFAULT false;

-- "Everything about this proposal by kind" (estimates, pledges, statuses) without hidden rows.
DROP INDEX appview.record_subject_idx;
CREATE INDEX record_subject_idx ON appview.record (subject_uri, collection)
    INCLUDE (did, amount, currency)
    WHERE subject_uri IS NOT NULL AND NOT hidden;
-- Hiding and unhiding an account's records.
CREATE INDEX record_did_idx ON appview.record (did);

-- Revisions are TIDs, which sort correctly only byte-wise; make every comparison byte-wise
-- whatever the database's default collation is.
ALTER TABLE appview.record ALTER COLUMN rev TYPE text COLLATE "C";
ALTER TABLE appview.record_tombstone ALTER COLUMN rev TYPE text COLLATE "C";
ALTER TABLE appview.rejected_record ALTER COLUMN rev TYPE text COLLATE "C";

-- Rejected records are listed per collection for operators.
CREATE INDEX rejected_record_reason_idx ON appview.rejected_record (collection, rejected_at DESC);

-- Backfill progress: one row per repo, so an interrupted backfill resumes where it stopped.
CREATE TABLE appview.backfill_repo (
    did         text PRIMARY KEY,
    -- `pending`, `done`, or `failed` (see `error`).
    state       text NOT NULL DEFAULT 'pending',
    pds         text,
    -- The repo revision the backfill read (getLatestCommit before listing).
    rev         text COLLATE "C",
    records     integer NOT NULL DEFAULT 0,
    error       text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backfill_repo_state_idx ON appview.backfill_repo (state);

-- Events that could not be applied at all: undecodable frames, commits whose signature does
-- not verify, ops with an impossible path. Kept for operators; they never touch `record`, so a
-- forged event cannot hide or replace a real record.
CREATE TABLE appview.rejected_event (
    id          bigserial PRIMARY KEY,
    source      text NOT NULL,
    position    bigint,
    did         text,
    reason      text NOT NULL,
    body        jsonb,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_event_did_idx ON appview.rejected_event (did) WHERE did IS NOT NULL;
