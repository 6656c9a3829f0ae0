//! End-to-end tests and the local atproto network harness.
pub mod browser;
pub mod fault_campaign;
pub mod jetstream_standin;
pub mod network;
pub mod node;
pub mod proposal_views;
pub mod record_corpus;
pub mod reference_validator;
pub mod relay_standin;
pub mod scratch_database;
pub mod service_tokens;
pub mod services;
pub mod steps;
pub mod world;
