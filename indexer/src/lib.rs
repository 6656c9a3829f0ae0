//! The Greenlight indexer: every `fund.greenlight.*` record on the network into Postgres,
//! exactly once in effect.
//!
//! Shape: a [`source`] (raw firehose, Jetstream, or [`backfill`]) decodes, verifies
//! ([`verify`]) and judges events ([`record_rules`]) into [`event::SourceEvent`]s; the
//! [`pipeline`] buffers them through a bounded channel and the [`writer`] applies them in
//! batches with multi-row statements: a batch is split by author DID into concurrent
//! transactions ("lanes"), and the source cursor ([`cursor`]) commits with the last of them,
//! so it never runs ahead of the writes it covers. Everything is guarded by repo revisions and
//! idempotent: replays change nothing. Identity lookups run in the bounded, caching
//! [`identity_pool`]; a commit whose author's key does not come in time is parked
//! ([`parking`]) and replayed when it does. [`metrics`] serves Prometheus counters; [`bench`] is
//! the ingest benchmark.

pub mod backfill;
pub mod bench;
pub mod cursor;
pub mod event;
pub mod identity_pool;
pub mod metrics;
pub mod parking;
pub mod pipeline;
pub mod record_rules;
pub mod service;
pub mod source;
pub mod verify;
pub mod writer;
