//! Records: building and validating them, and writing them to the user's repo, as the client
//! library does it, under the path the commands, the demo and the end-to-end tests use. A
//! [`Session`](crate::session::Session) is an atrium agent, so it is passed where the
//! library takes one.

pub use greenlight_client::at_uri::AtUri;
pub use greenlight_client::records::{
    dispute_record, estimate_record, maintainer_record, now, pledge_record, project_record,
    proposal_record, retainer_record, status_record, validated, NewProject, ProposalTarget,
    RecordRef,
};
pub use greenlight_client::repo::{create, delete, put, resolve_ref, strong_ref};
