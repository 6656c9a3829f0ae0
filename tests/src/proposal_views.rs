//! Whole `fund.greenlight.defs#proposalView`s built from the generated lexicon types, for the
//! stand-ins of the AppView's `fund.greenlight.getProposal` that escrow's tests run.
//!
//! Escrow decodes the AppView's answer into the generated type, so a stand-in must serve what
//! the real AppView serves: every required field, valid against the lexicon (checked below),
//! or escrow's tests would exercise a decoder the real AppView never meets.

use greenlight_lexicon::fund::greenlight::defs::{
    ActorRef, FundingTotals, PreviewInfo, ProjectRef, ProposalView, ProposalViewSubject,
    RepositoryRef,
};

/// A well-formed CID for the stand-ins' proposals.
pub const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";

/// When the stand-ins' proposals were written and indexed.
pub const CREATED_AT: &str = "2026-01-01T00:00:00.000Z";

/// The subject of a proposal about the project at `project` (an AT-URI), proven or not.
pub fn project_subject(project: &str, verified: bool) -> ProposalViewSubject {
    ProposalViewSubject::ProjectRef(ProjectRef {
        uri: project.to_owned(),
        name: Some("App".to_owned()),
        verified: Some(verified),
    })
}

/// The subject of a proposal about a bare repository at `url`.
pub fn repository_subject(url: &str) -> ProposalViewSubject {
    ProposalViewSubject::RepositoryRef(RepositoryRef {
        url: url.to_owned(),
    })
}

/// A preview ending at `ends_at` (RFC 3339).
pub fn preview(ends_at: &str) -> PreviewInfo {
    PreviewInfo {
        url: "https://preview.example".to_owned(),
        instructions: "Try it".to_owned(),
        ends_at: ends_at.to_owned(),
    }
}

/// A proposal at `uri` in `stage`, in `currency`, about `subject`, with nothing funded yet.
/// Callers set `preview` and the rest on the returned view as their world needs.
pub fn proposal_view(
    uri: &str,
    stage: &str,
    currency: &str,
    subject: ProposalViewSubject,
) -> ProposalView {
    ProposalView {
        uri: uri.to_owned(),
        cid: CID.to_owned(),
        author: ActorRef {
            did: "did:plc:author".to_owned(),
            handle: None,
        },
        subject,
        title: "A feature".to_owned(),
        body: "Please build it.".to_owned(),
        tags: None,
        stage: stage.to_owned(),
        stage_history: Vec::new(),
        goal: None,
        currency: currency.to_owned(),
        totals: FundingTotals {
            uri: uri.to_owned(),
            currency: currency.to_owned(),
            estimate_count: 0,
            estimate_total: 0,
            capped_estimate_count: 0,
            goal: None,
            pledged_held: 0,
            paid_out: 0,
            refunded: 0,
            donations: 0,
            pledge_count: 0,
            backer_count: 0,
        },
        preview: None,
        release: None,
        decline_reason: None,
        escrow_state: None,
        payee: None,
        withdrawn: None,
        verification_started_at: None,
        verification_ends_at: None,
        indexed_at: CREATED_AT.to_owned(),
        created_at: CREATED_AT.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenlight_lexicon::fund::greenlight::get_proposal;
    use greenlight_lexicon::Catalog;

    #[test]
    fn the_views_are_valid_get_proposal_answers() {
        let catalog = Catalog::embedded().unwrap();
        let uri = "at://did:plc:author/fund.greenlight.proposal/3kaaaaaaaaaaa";
        let mut about_project = proposal_view(
            uri,
            "preview",
            "USD",
            project_subject("at://did:plc:owner/fund.greenlight.project/app", true),
        );
        about_project.preview = Some(preview("2030-01-02T03:04:05.000Z"));
        let bare = proposal_view(
            uri,
            "proposed",
            "USD",
            repository_subject("https://git.example/x"),
        );
        for view in [about_project, bare] {
            let json = serde_json::to_value(&view).unwrap();
            catalog
                .validate_output(get_proposal::NSID, &json)
                .unwrap_or_else(|error| panic!("{error}: {json}"));
        }
    }
}
