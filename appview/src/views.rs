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

/// What escrow holds for a proposal, in the words of `proposalView.escrowState`.
fn escrow_state(row: &ProposalRow) -> &'static str {
    let money = &row.totals.money;
    if !row.has_money {
        "none"
    } else if money.paid_out > 0 {
        "paid"
    } else if money.refunded > 0 && money.pledged_held == 0 {
        "refunded"
    } else if row.stage == "released" && money.pledged_held > 0 {
        "verifying"
    } else if money.pledged_held > 0 || row.stage == "preview" {
        "open"
    } else {
        "none"
    }
}

/// `defs#proposalView`.
pub fn proposal_view(
    row: &ProposalRow,
    handles: &HashMap<String, String>,
    verification: Duration,
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
    view.insert("stage".into(), json!(row.stage));
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
    if let Some(released_at) = row.released_at {
        let ends = chrono::Duration::from_std(verification)
            .ok()
            .and_then(|d| released_at.checked_add_signed(d));
        if let Some(ends) = ends {
            view.insert("verificationEndsAt".into(), json!(datetime(ends)));
        }
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
    view.insert(
        "maintainers".into(),
        Value::Array(
            maintainers(body)
                .into_iter()
                .map(|did| actor_ref(did, handles))
                .collect(),
        ),
    );
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
