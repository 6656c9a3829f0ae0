//! Presentation: hydrated rows to the views of `fund.greenlight.defs`, as the generated
//! lexicon types.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use greenlight_funding::Stage;
use greenlight_lexicon::fund::greenlight::defs::{
    ActorRef, EstimateView, FundingTotals, PledgeView, ProjectProof, ProjectRef, ProjectView,
    ProposalView, ProposalViewSubject, RepositoryRef,
};
use greenlight_lexicon::fund::greenlight::project::Project;
use greenlight_lexicon::fund::greenlight::proposal::{Proposal, ProposalSubject};

use crate::hydrate::{EstimateRow, PledgeRow, ProjectRow, ProposalRow, TotalsRow};

/// A lexicon `datetime`.
pub fn datetime(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `defs#actorRef`.
pub fn actor_ref(did: &str, handles: &HashMap<String, String>) -> ActorRef {
    ActorRef {
        did: did.to_owned(),
        handle: handles.get(did).cloned(),
    }
}

/// `defs#fundingTotals`.
pub fn funding_totals(row: &TotalsRow) -> FundingTotals {
    let money = &row.money;
    FundingTotals {
        uri: row.uri.clone(),
        currency: row.currency.clone(),
        estimate_count: row.estimate_count.max(0),
        estimate_total: row.estimate_total.max(0),
        capped_estimate_count: row.capped_count.max(0),
        goal: row.goal.filter(|g| *g >= 1),
        pledged_held: money.pledged_held.max(0),
        paid_out: money.paid_out.max(0),
        refunded: money.refunded.max(0),
        donations: money.donations.max(0),
        pledge_count: money.pledge_count.max(0),
        backer_count: money.backer_count.max(0),
    }
}

/// The stage a proposal view shows: the records' stage, unless that would contradict where
/// escrow holds the money. Escrow's `released` and `declined` decide the money (verification
/// runs, or the pledges go back) whatever the records do afterwards, so they win: a release
/// record deleted or rejected after escrow started verification must not hide the dispute
/// window. Otherwise the view never shows an earlier stage than escrow holds (a preview record
/// deleted while escrow holds pledges under it); a stage escrow does not know yet (a release
/// it has not seen) still shows as the records say.
pub fn shown_stage<'a>(records: &'a str, escrow: Option<&'a str>) -> &'a str {
    // Where an open (not final) stage stands in the lifecycle.
    let open_rank = |stage: &str| {
        Stage::parse(stage)
            .filter(|stage| !stage.is_final())
            .map(Stage::rank)
    };
    match escrow {
        Some(held @ ("released" | "declined")) => held,
        Some(held) => match (open_rank(records), open_rank(held)) {
            (Some(shown), Some(escrows)) if escrows > shown => held,
            _ => records,
        },
        None => records,
    }
}

/// What escrow holds for a proposal, in the words of `proposalView.escrowState`: from
/// escrow's own state when its proposal-states feed has one, else from the ledger's money.
fn escrow_state(row: &ProposalRow) -> &'static str {
    let escrow = &row.escrow;
    let Some(held_stage) = escrow.escrow_stage.as_deref() else {
        return money_state(row, &row.stage);
    };
    match escrow.escrow_settlement.as_deref() {
        Some("payout") => "paid",
        Some("refund") => "refunded",
        _ if held_stage == "released" => {
            if escrow.escrow_open_disputes.unwrap_or(0) > 0 {
                "disputed"
            } else {
                "verifying"
            }
        }
        // Escrow has not seen a release: no verification runs, whatever the records say.
        _ => money_state(row, held_stage),
    }
}

/// `escrowState` from the ledger's money and a stage.
fn money_state(row: &ProposalRow, stage: &str) -> &'static str {
    let money = &row.totals.money;
    if !row.has_money {
        "none"
    } else if money.paid_out > 0 {
        "paid"
    } else if money.refunded > 0 && money.pledged_held == 0 {
        "refunded"
    } else if stage == "released" && money.pledged_held > 0 {
        "verifying"
    } else if money.pledged_held > 0 || stage == "preview" {
        "open"
    } else {
        "none"
    }
}

/// `defs#proposalView` of a proposal `record` and its hydrated `row`.
pub fn proposal_view(
    row: &ProposalRow,
    record: &Proposal,
    handles: &HashMap<String, String>,
) -> ProposalView {
    let subject = match &row.project_uri {
        Some(project) => ProposalViewSubject::ProjectRef(ProjectRef {
            uri: project.clone(),
            name: row.project_name.clone(),
            verified: Some(row.project_verified.unwrap_or(false)),
        }),
        None => ProposalViewSubject::RepositoryRef(RepositoryRef {
            url: match &record.subject {
                ProposalSubject::Repository(repository) => repository.url.clone(),
                // Without a project the subject is a repository; nothing else reaches here.
                _ => String::new(),
            },
        }),
    };
    let stage_history = row
        .history
        .iter()
        .map(|event| {
            let author = actor_ref(&event.author, handles);
            event.clone().into_view(author)
        })
        .collect();
    // Escrow's clock only, never the release record's date: a maintainer can backdate or
    // delete that record, while escrow keeps the period it started when it saw the release.
    let escrow = &row.escrow;
    let payee = escrow.escrow_payee.as_deref().map(|payee| {
        let mut payee_ref = actor_ref(payee, handles);
        if payee_ref.handle.is_none() {
            payee_ref.handle = escrow
                .escrow_payee_handle
                .clone()
                .filter(|h| crate::hydrate::is_handle(h));
        }
        payee_ref
    });
    ProposalView {
        uri: row.uri.clone(),
        cid: row.cid.clone(),
        author: actor_ref(&row.did, handles),
        subject,
        title: record.title.clone(),
        body: record.body.clone(),
        tags: record.tags.clone(),
        stage: shown_stage(&row.stage, escrow.escrow_stage.as_deref()).to_owned(),
        stage_history,
        goal: row.totals.goal.filter(|g| *g >= 1),
        currency: row.totals.currency.clone(),
        totals: funding_totals(&row.totals),
        preview: row.preview.as_deref().cloned(),
        release: row.release.as_deref().cloned(),
        decline_reason: row.decline_reason.clone(),
        escrow_state: Some(escrow_state(row).to_owned()),
        payee,
        withdrawn: row.withdrawn.then_some(true),
        verification_started_at: escrow.escrow_verification_started_at.map(datetime),
        verification_ends_at: escrow.escrow_verification_ends_at.map(datetime),
        indexed_at: datetime(row.indexed_at),
        created_at: datetime(row.created_at),
    }
}

/// `defs#projectView` of a project `record`, its hydrated `row` and its latest proof checks.
pub fn project_view(
    row: &ProjectRow,
    record: &Project,
    handles: &HashMap<String, String>,
    proof: Option<ProjectProof>,
) -> ProjectView {
    // Listing someone is only an invitation; they maintain once they accept.
    let (accepted, invited): (Vec<&str>, Vec<&str>) =
        maintainers(record).partition(|did| row.accepted.iter().any(|a| a == did));
    let refs = |dids: Vec<&str>| -> Vec<ActorRef> {
        dids.into_iter().map(|d| actor_ref(d, handles)).collect()
    };
    ProjectView {
        uri: row.uri.clone(),
        cid: row.cid.clone(),
        owner: actor_ref(&row.did, handles),
        name: record.name.clone(),
        description: record.description.clone(),
        repository: record.repository.clone(),
        website: record.website.clone(),
        currency: row.totals.currency.clone(),
        maintainers: refs(accepted),
        invited_maintainers: (!invited.is_empty()).then(|| refs(invited)),
        proposal_count: row.proposal_count.max(0),
        totals: funding_totals(&row.totals),
        proof,
        indexed_at: datetime(row.indexed_at),
        created_at: datetime(row.created_at),
    }
}

/// The maintainer DIDs a project record lists.
pub fn maintainers(record: &Project) -> impl Iterator<Item = &str> {
    record.maintainers.iter().flatten().map(String::as_str)
}

/// `defs#estimateView`; `None` for a record without an amount or currency.
pub fn estimate_view(row: &EstimateRow, handles: &HashMap<String, String>) -> Option<EstimateView> {
    Some(EstimateView {
        uri: row.uri.clone(),
        cid: row.cid.clone(),
        author: actor_ref(&row.did, handles),
        amount: row.amount?,
        counted_amount: row.counted.max(0),
        currency: row.currency.clone()?,
        capped: row.capped,
        frozen: row.frozen,
        created_at: datetime(row.created_at),
        indexed_at: datetime(row.indexed_at),
    })
}

/// `defs#pledgeView`, in the state escrow reports (`pending` until it confirms the pledge);
/// `None` for a record without an amount, currency or receipt.
pub fn pledge_view(row: &PledgeRow, handles: &HashMap<String, String>) -> Option<PledgeView> {
    Some(PledgeView {
        uri: row.uri.clone(),
        cid: row.cid.clone(),
        backer: actor_ref(&row.did, handles),
        amount: row.amount?,
        currency: row.currency.clone()?,
        receipt: row.receipt.clone()?,
        state: row
            .escrow_state
            .clone()
            .unwrap_or_else(|| "pending".to_owned()),
        created_at: datetime(row.created_at),
        indexed_at: datetime(row.indexed_at),
    })
}
