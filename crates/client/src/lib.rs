//! Acting for a person on Greenlight: building and validating `fund.greenlight.*` records,
//! writing them to the person's own repo, and calling escrow with their service-auth tokens.
//!
//! Everything that talks to a PDS takes an atrium [`Agent`](atrium_api::agent::Agent) over
//! any session manager, so the CLI (an app-password session) and the browser (an OAuth
//! session) share one implementation. The person is whoever the agent's session belongs to
//! (`Agent::did`). HTTP calls to escrow use the `reqwest::Client` the caller gives.

pub mod at_uri;
pub mod backing;
pub mod checkout;
pub mod error;
pub mod escrow;
pub mod money;
pub mod records;
pub mod repo;
pub mod xrpc;

pub use at_uri::AtUri;
pub use error::ClientError;
pub use escrow::EscrowClient;
pub use records::RecordRef;

#[cfg(test)]
mod tests {
    use atrium_api::agent::{Agent, SessionManager};
    use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;

    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// The AppView acts for people inside request handlers that must be `Send`; this only
    /// has to compile, for any session manager.
    #[allow(dead_code)]
    fn acting_for_a_person_is_send<M: SessionManager + Send + Sync>(
        agent: &Agent<M>,
        escrow: &EscrowClient,
        proposal: &StrongRef,
    ) {
        let record = records::maintainer_record(proposal.clone());
        assert_send(&repo::create(agent, &record, None));
        assert_send(&repo::delete(agent, &proposal.uri));
        assert_send(&backing::pledge(agent, escrow, proposal, 1, "USD", "key"));
        assert_send(&backing::donate(agent, escrow, proposal, 1, "USD", "key"));
        assert_send(&escrow.file_dispute(agent, proposal, "why", &[], "key"));
    }
}
