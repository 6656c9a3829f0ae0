-- The AppView's copy of every fund.greenlight.* record on the network. It is a cache: all of it
-- can be rebuilt from the network (records) and the escrow ledger (money).
CREATE SCHEMA IF NOT EXISTS appview;

-- One row per record, by at-uri, as its author's repo holds it now.
CREATE TABLE appview.record (
    uri         text PRIMARY KEY,
    did         text NOT NULL,
    collection  text NOT NULL,
    rkey        text NOT NULL,
    cid         text NOT NULL,
    -- The repo revision (a TID) of the commit that wrote this version: an event with an older
    -- rev is stale and must not overwrite it.
    rev         text NOT NULL,
    body        jsonb NOT NULL,
    -- The record a strongRef `subject` points at (proposal → project, estimate → proposal, ...).
    subject_uri text,
    created_at  timestamptz NOT NULL,
    indexed_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (did, collection, rkey)
);
CREATE INDEX record_subject_idx ON appview.record (subject_uri, collection) WHERE subject_uri IS NOT NULL;
CREATE INDEX record_collection_idx ON appview.record (collection, created_at DESC);

-- A deletion is remembered with its rev, so a replayed older create cannot bring a record back.
CREATE TABLE appview.record_tombstone (
    uri        text PRIMARY KEY,
    rev        text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

-- Records that failed validation, with the reason, so that authors and operators can see why a
-- record does not count. `body` is null when the bytes did not even decode.
CREATE TABLE appview.rejected_record (
    uri         text PRIMARY KEY,
    did         text NOT NULL,
    collection  text NOT NULL,
    rkey        text NOT NULL,
    cid         text,
    rev         text NOT NULL,
    body        jsonb,
    reason      text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_record_did_idx ON appview.rejected_record (did);

-- Accounts we have seen: handle cache and hosting status. Records of an inactive account are
-- hidden, not deleted, so that reactivation brings them back.
CREATE TABLE appview.actor (
    did        text PRIMARY KEY,
    handle     text,
    active     boolean NOT NULL DEFAULT true,
    status     text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX actor_handle_idx ON appview.actor (handle);

-- Where each event source is up to. Written in the same transaction as the writes it covers.
CREATE TABLE appview.source_cursor (
    source     text PRIMARY KEY,
    position   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
