//! Presentation: hydrated rows to the JSON views of `fund.greenlight.defs`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::hydrate::{ProjectRow, ProposalRow, TotalsRow};

/// A lexicon `datetime`.
pub fn datetime(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `defs#actorRef`.
pub fn actor_ref(did: &str, handles: &HashMap<String, String>) -> Value {
    let mut actor = Map::new();
    actor.insert("did".into(), json!(did));
    if let Some(handle) = handles.get(did) {
        actor.insert("handle".into(), json!(handle));
    }
    Value::Object(actor)
}

/// `defs#fundingTotals`.
pub fn funding_totals(row: &TotalsRow) -> Value {
    let mut totals = json!({
        "uri": row.uri,
        "currency": row.currency,
        "estimateCount": row.estimate_count.max(0),
        "estimateTotal": row.estimate_total.max(0),
        "cappedEstimateCount": row.capped_count.max(0),
        "pledgedHeld": row.money.pledged_held.max(0),
        "paidOut": row.money.paid_out.max(0),
        "refunded": row.money.refunded.max(0),
        "donations": row.money.donations.max(0),
        "pledgeCount": row.money.pledge_count.max(0),
        "backerCount": row.money.backer_count.max(0),
    });
    if let (Some(goal), Some(map)) = (row.goal.filter(|g| *g >= 1), totals.as_object_mut()) {
        map.insert("goal".into(), json!(goal));
    }
    totals
}

fn insert_str(map: &mut Map<String, Value>, key: &str, value: Option<&Value>) {
    if let Some(value) = value.filter(|v| v.is_string()) {
        map.insert(key.into(), value.clone());
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
    fn rank(stage: &str) -> Option<u8> {
        match stage {
            "proposed" => Some(0),
            "development" => Some(1),
            "preview" => Some(2),
            _ => None,
        }
    }
    match escrow {
        Some(held @ ("released" | "declined")) => held,
        Some(held) => match (rank(records), rank(held)) {
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

/// `defs#proposalView`.
///
/// `_verification` (the configured period) is no longer read: verification dates come only
/// from escrow's clock. It stays until `xrpc::proposals::present` stops passing it.
pub fn proposal_view(
    row: &ProposalRow,
    handles: &HashMap<String, String>,
    _verification: Duration,
) -> Value {
    let body = &row.body;
    let mut view = Map::new();
    view.insert("uri".into(), json!(row.uri));
    view.insert("cid".into(), json!(row.cid));
    view.insert("author".into(), actor_ref(&row.did, handles));
    let subject = match &row.project_uri {
        Some(project) => {
            let mut subject = json!({ "$type": "fund.greenlight.defs#projectRef", "uri": project });
            if let (Some(name), Some(map)) = (&row.project_name, subject.as_object_mut()) {
                map.insert("name".into(), json!(name));
            }
            if let Some(map) = subject.as_object_mut() {
                map.insert(
                    "verified".into(),
                    json!(row.project_verified.unwrap_or(false)),
                );
            }
            subject
        }
        None => json!({
            "$type": "fund.greenlight.defs#repositoryRef",
            "url": body.pointer("/subject/url").cloned().unwrap_or(Value::Null),
        }),
    };
    view.insert("subject".into(), subject);
    view.insert(
        "title".into(),
        body.get("title").cloned().unwrap_or(json!("")),
    );
    view.insert(
        "body".into(),
        body.get("body").cloned().unwrap_or(json!("")),
    );
    if let Some(tags) = body.get("tags").filter(|t| t.is_array()) {
        view.insert("tags".into(), tags.clone());
    }
    view.insert(
        "stage".into(),
        json!(shown_stage(&row.stage, row.escrow.escrow_stage.as_deref())),
    );
    let history: Vec<Value> = row
        .history
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|event| {
                    let author = event
                        .get("author")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let mut event = event.clone();
                    if let Some(map) = event.as_object_mut() {
                        map.insert("author".into(), actor_ref(author, handles));
                    }
                    event
                })
                .collect()
        })
        .unwrap_or_default();
    view.insert("stageHistory".into(), Value::Array(history));
    if let Some(goal) = row.totals.goal.filter(|g| *g >= 1) {
        view.insert("goal".into(), json!(goal));
    }
    view.insert("currency".into(), json!(row.totals.currency));
    view.insert("totals".into(), funding_totals(&row.totals));
    if let Some(preview) = &row.preview {
        view.insert("preview".into(), preview.clone());
    }
    if let Some(release) = &row.release {
        view.insert("release".into(), release.clone());
    }
    if let Some(reason) = &row.decline_reason {
        view.insert("declineReason".into(), json!(reason));
    }
    view.insert("escrowState".into(), json!(escrow_state(row)));
    // Escrow's clock only, never the release record's date: a maintainer can backdate or
    // delete that record, while escrow keeps the period it started when it saw the release.
    let escrow = &row.escrow;
    if let Some(payee) = &escrow.escrow_payee {
        let mut payee_ref = actor_ref(payee, handles);
        let handle = escrow
            .escrow_payee_handle
            .as_deref()
            .filter(|h| crate::hydrate::is_handle(h));
        if let (Some(handle), Some(map)) = (handle, payee_ref.as_object_mut()) {
            map.entry("handle").or_insert_with(|| json!(handle));
        }
        view.insert("payee".into(), payee_ref);
    }
    if let Some(started) = escrow.escrow_verification_started_at {
        view.insert("verificationStartedAt".into(), json!(datetime(started)));
    }
    if let Some(ends) = escrow.escrow_verification_ends_at {
        view.insert("verificationEndsAt".into(), json!(datetime(ends)));
    }
    if row.withdrawn {
        view.insert("withdrawn".into(), json!(true));
    }
    view.insert("indexedAt".into(), json!(datetime(row.indexed_at)));
    view.insert("createdAt".into(), json!(datetime(row.created_at)));
    Value::Object(view)
}

/// `defs#projectView`.
pub fn project_view(row: &ProjectRow, handles: &HashMap<String, String>) -> Value {
    let body = &row.body;
    let mut view = Map::new();
    view.insert("uri".into(), json!(row.uri));
    view.insert("cid".into(), json!(row.cid));
    view.insert("owner".into(), actor_ref(&row.did, handles));
    view.insert(
        "name".into(),
        body.get("name").cloned().unwrap_or(json!("")),
    );
    view.insert(
        "description".into(),
        body.get("description").cloned().unwrap_or(json!("")),
    );
    view.insert(
        "repository".into(),
        body.get("repository").cloned().unwrap_or(Value::Null),
    );
    insert_str(&mut view, "website", body.get("website"));
    view.insert("currency".into(), json!(row.totals.currency));
    // Listing someone is only an invitation; they maintain once they accept.
    let (accepted, invited): (Vec<&str>, Vec<&str>) = maintainers(body)
        .into_iter()
        .partition(|did| row.accepted.iter().any(|a| a == did));
    let refs =
        |dids: Vec<&str>| Value::Array(dids.into_iter().map(|d| actor_ref(d, handles)).collect());
    view.insert("maintainers".into(), refs(accepted));
    if !invited.is_empty() {
        view.insert("invitedMaintainers".into(), refs(invited));
    }
    view.insert("proposalCount".into(), json!(row.proposal_count.max(0)));
    view.insert("totals".into(), funding_totals(&row.totals));
    view.insert("indexedAt".into(), json!(datetime(row.indexed_at)));
    view.insert("createdAt".into(), json!(datetime(row.created_at)));
    Value::Object(view)
}

/// The maintainer DIDs a project record lists.
pub fn maintainers(body: &Value) -> Vec<&str> {
    body.get("maintainers")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}
