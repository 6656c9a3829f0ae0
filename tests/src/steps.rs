//! The steps the end-to-end stories are told in: status stages, the records people write and
//! the moves of a proposal towards its money, each done the way a person would do it with the
//! CLI's library. A step that fails fails the test, so the stories read as a list of steps.

use greenlight_cli::pledging;
use greenlight_cli::records::{self, NewProject, ProposalTarget, RecordRef};
use greenlight_cli::session::Session;
use greenlight_cli::ClientError;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::escrow::defs::{DonationView, LedgerEntry};
use greenlight_lexicon::fund::greenlight::escrow::list_ledger_entries;
use greenlight_lexicon::fund::greenlight::retainer_offer::{Included, RetainerOffer, Tier};
use greenlight_lexicon::fund::greenlight::status::{
    Decline, Development, Preview, Release, StatusStage,
};

use crate::world::World;

/// An RFC 3339 time `seconds` from now (in the past when negative), as records write them.
pub fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An RFC 3339 time `days` from now (in the past when negative).
pub fn in_days(days: i64) -> String {
    in_seconds(days * 24 * 60 * 60)
}

/// Development has started, with a funding goal in minor units of `currency`.
pub fn development(goal: i64, currency: &str) -> StatusStage {
    StatusStage::Development(Development {
        goal,
        currency: currency.into(),
        note: None,
    })
}

/// A preview that ends in a week: longer than any test waits.
pub fn preview() -> StatusStage {
    preview_until(in_days(7))
}

/// A preview that ends at `ends_at` (for the stories about what happens when it ends).
pub fn preview_until(ends_at: String) -> StatusStage {
    StatusStage::Preview(Preview {
        url: "https://preview.example/feature".into(),
        instructions: "Try it.".into(),
        ends_at,
    })
}

/// Released as open source: verification starts.
pub fn release() -> StatusStage {
    StatusStage::Release(Release {
        source_url: "https://example.com/project/releases/v1".into(),
        revision: Some("v1.0.0".into()),
        license: "MIT".into(),
    })
}

/// Will not be built: every pledge is refunded.
pub fn decline(reason: &str) -> StatusStage {
    StatusStage::Decline(Decline {
        reason: reason.into(),
    })
}

/// A project named `name` taking money in `currency`, inviting `maintainers` (DIDs). Its
/// repository is left empty: [`World::project`] puts it on the stand-in forge.
pub fn new_project(name: &str, currency: &str, maintainers: Vec<String>) -> NewProject {
    NewProject {
        name: name.into(),
        description: format!("{name}, for the end-to-end tests."),
        repository: String::new(),
        website: None,
        currency: currency.into(),
        maintainers,
    }
}

/// `author` proposes a feature titled `title` for `project`.
pub async fn propose(author: &Session, project: &StrongRef, title: &str) -> StrongRef {
    records::create(
        author,
        &records::proposal_record(
            ProposalTarget::Project(project.clone()),
            title,
            "Details.",
            vec![],
        ),
        None,
    )
    .await
    .expect("proposal")
    .strong_ref()
}

/// `who` says they would pay `amount` (minor units of `currency`) for `proposal`.
pub async fn estimate(
    who: &Session,
    proposal: &StrongRef,
    amount: i64,
    currency: &str,
) -> RecordRef {
    records::create(
        who,
        &records::estimate_record(proposal.clone(), amount, currency),
        None,
    )
    .await
    .expect("estimate")
}

/// `who` posts `stage` as a status of `proposal` (whether it counts is the AppView's and
/// escrow's business); returns the status record's URI.
pub async fn post(who: &Session, proposal: &StrongRef, stage: StatusStage) -> String {
    records::create(who, &records::status_record(proposal.clone(), stage), None)
        .await
        .expect("status")
        .uri
}

/// Takes `proposal` of `maintainer`'s project through development into a preview that ends
/// in a week, waiting for the AppView to show each stage.
pub async fn into_preview(
    world: &World,
    maintainer: &Session,
    proposal: &StrongRef,
    currency: &str,
) {
    into_preview_until(world, maintainer, proposal, currency, in_days(7)).await;
}

/// [`into_preview`] with a preview that ends at `ends_at`.
pub async fn into_preview_until(
    world: &World,
    maintainer: &Session,
    proposal: &StrongRef,
    currency: &str,
    ends_at: String,
) {
    post(maintainer, proposal, development(10_000, currency)).await;
    world.stage_until(&proposal.uri, "development").await;
    post(maintainer, proposal, preview_until(ends_at)).await;
    world.stage_until(&proposal.uri, "preview").await;
}

/// `backer` pledges `amount` (minor units of `currency`) through escrow, with a fresh
/// idempotency key, and writes the pledge record.
pub async fn pledge(
    world: &World,
    backer: &Session,
    proposal: &StrongRef,
    amount: i64,
    currency: &str,
) {
    pledging::pledge(
        backer,
        &world.escrow,
        proposal,
        amount,
        currency,
        &pledging::new_idempotency_key(),
    )
    .await
    .expect("pledge");
}

/// `donor` tries to donate `amount` (minor units of `currency`) to `proposal` through escrow,
/// with a fresh idempotency key, completing the sandbox checkout.
async fn try_donating(
    world: &World,
    donor: &Session,
    proposal: &StrongRef,
    amount: i64,
    currency: &str,
) -> Result<DonationView, ClientError> {
    let key = pledging::new_idempotency_key();
    pledging::donate(donor, &world.escrow, proposal, amount, currency, &key).await
}

/// `donor` donates `amount` (minor units of `currency`) to `proposal`; answers the donation
/// as escrow created it.
pub async fn donate(
    world: &World,
    donor: &Session,
    proposal: &StrongRef,
    amount: i64,
    currency: &str,
) -> DonationView {
    try_donating(world, donor, proposal, amount, currency)
        .await
        .unwrap_or_else(|error| panic!("donation: {error}\n{}", world.services.logs()))
}

/// The XRPC error escrow refuses `donor`'s donation to `proposal` with; fails the test when
/// escrow takes it.
pub async fn refused_donation(
    world: &World,
    donor: &Session,
    proposal: &StrongRef,
    amount: i64,
    currency: &str,
) -> String {
    match try_donating(world, donor, proposal, amount, currency).await {
        Ok(taken) => panic!("the donation was taken: {taken:?}"),
        Err(error) => match error.xrpc_error() {
            Some(name) => name.to_owned(),
            None => panic!("not an XRPC refusal: {error}"),
        },
    }
}

/// Escrow's public ledger feed, every page, with each entry in its latest state (the feed
/// repeats an entry under a new seq when its state changes).
pub async fn ledger_entries(world: &World) -> Vec<LedgerEntry> {
    let url = format!(
        "{}/xrpc/{}",
        world.services.escrow_url,
        list_ledger_entries::NSID
    );
    let mut latest: Vec<LedgerEntry> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "1000".to_owned())];
        query.extend(cursor.take().map(|seq| ("cursor", seq)));
        let page: list_ledger_entries::Output = reqwest::Client::new()
            .get(&url)
            .query(&query)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("listLedgerEntries")
            .json()
            .await
            .expect("a ledger page");
        if page.entries.is_empty() {
            return latest;
        }
        for entry in page.entries {
            latest.retain(|seen| seen.id != entry.id);
            latest.push(entry);
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return latest;
        }
    }
}

/// A monthly USD price of a retainer tier, in minor units: Supporter, Partner, Advisor.
pub const RETAINER_PRICES: [i64; 3] = [50_000, 150_000, 500_000];

/// A retainer offer for `project` with three monthly USD tiers at [`RETAINER_PRICES`]: each
/// includes risk mitigation, Partner and Advisor reciprocal access, Advisor advice (and at
/// most 3 clients).
pub fn three_tier_offer(project: StrongRef) -> RetainerOffer {
    let tier = |name: &str, amount: i64, access: bool, advisory: bool, details: &str| Tier {
        name: name.into(),
        amount,
        currency: "USD".into(),
        period: "month".into(),
        included: Included {
            risk_mitigation: true,
            reciprocal_access: access,
            advisory,
            details: Some(details.into()),
        },
        seat_limit: advisory.then_some(3),
    };
    let [supporter, partner, advisor] = RETAINER_PRICES;
    RetainerOffer {
        projects: Some(vec![project]),
        repositories: None,
        description: "Keep the project maintained: security fixes, releases and a say in the \
                      roadmap for the companies that run it."
            .into(),
        tiers: vec![
            tier(
                "Supporter",
                supporter,
                false,
                false,
                "Security fixes and releases.",
            ),
            tier(
                "Partner",
                partner,
                true,
                false,
                "A quarterly call; a say in the roadmap.",
            ),
            tier(
                "Advisor",
                advisor,
                true,
                true,
                "Advice beyond the project, two hours a month.",
            ),
        ],
        terms_url: Some("https://example.com/retainer-terms".into()),
        created_at: records::now(),
    }
}
