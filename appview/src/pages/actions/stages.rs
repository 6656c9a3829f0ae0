//! A maintainer moves a proposal through its stages: development with a goal, a preview
//! people can try (and back), the open-source release, or declining it. Each move is a
//! `fund.greenlight.status` record in the maintainer's repository; the funding rules decide
//! whether it counts (the page says so if not).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Form;
use greenlight_client::{records, repo};
use greenlight_funding::Currency;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::defs::ProposalView;
use greenlight_lexicon::fund::greenlight::status::{
    Decline, Development, Preview, Release, StatusStage,
};

use super::{acting_on, after_write, filled, form_again, problem};
use crate::embed::{page_path, Kind};
use crate::html::{safe_url, Markup};
use crate::pages::form::{self, Filled, Input};
use crate::AppView;

/// The moves open from `stage`.
fn moves(stage: &str) -> &'static [&'static str] {
    match stage {
        "proposed" => &["development", "decline"],
        "development" => &["preview", "decline"],
        "preview" => &["release", "decline"],
        _ => &[],
    }
}

/// The maintainer's controls on a proposal page (only the moves open now), or one of them
/// on its own after a refusal (`only`).
pub fn render(
    m: &mut Markup,
    view: &ProposalView,
    csrf: &str,
    filled: &Filled,
    only: Option<&str>,
) {
    let open = moves(&view.stage);
    if open.is_empty() {
        return;
    }
    let action = format!("{}/status", page_path(Kind::Proposal, &view.uri));
    m.raw("<section class=\"act\" aria-labelledby=\"maintain-h\"><h2 id=\"maintain-h\">For maintainers</h2>");
    form::problem(m, filled);
    for stage in open.iter().filter(|s| only.is_none_or(|o| o == **s)) {
        match *stage {
            "development" => {
                form::open(m, &action, csrf, "Start development");
                form::hidden(m, "stage", "development");
                m.raw("<h3>Start development</h3>");
                let label = format!("Goal in {}", view.currency);
                form::field(
                    m,
                    filled,
                    "goal",
                    &label,
                    Some("What you need to build it"),
                    Input::Text,
                    true,
                );
                form::field(
                    m,
                    filled,
                    "note",
                    "Note to backers (optional, Markdown)",
                    None,
                    Input::Area,
                    false,
                );
                form::close(m, "Start development");
            }
            "preview" => {
                form::open(m, &action, csrf, "Publish a preview");
                form::hidden(m, "stage", "preview");
                m.raw("<h3>Publish a preview</h3><p>Backers can pledge while the preview is open.</p>");
                form::field(
                    m,
                    filled,
                    "url",
                    "Where to try it",
                    Some("An https address"),
                    Input::Url,
                    true,
                );
                form::field(
                    m,
                    filled,
                    "instructions",
                    "How to try it (Markdown)",
                    None,
                    Input::Area,
                    true,
                );
                form::field(
                    m,
                    filled,
                    "ends",
                    "Preview ends on",
                    Some("Pledging closes at the end of this day (UTC)"),
                    Input::Date,
                    true,
                );
                form::close(m, "Publish preview");
            }
            "release" => {
                form::open(m, &action, csrf, "Release");
                form::hidden(m, "stage", "release");
                m.raw("<h3>Release as open source</h3><p>Backers then have the verification period to dispute; after it, you are paid.</p>");
                form::field(
                    m,
                    filled,
                    "source_url",
                    "Where the source is",
                    Some("An https address of the released code"),
                    Input::Url,
                    true,
                );
                form::field(
                    m,
                    filled,
                    "revision",
                    "Revision (optional)",
                    Some("A commit hash or tag"),
                    Input::Text,
                    false,
                );
                form::field(
                    m,
                    filled,
                    "license",
                    "License",
                    Some("An SPDX expression, for example MIT or Apache-2.0"),
                    Input::Text,
                    true,
                );
                form::close(m, "Release");
            }
            _ => {
                form::open(m, &action, csrf, "Decline");
                form::hidden(m, "stage", "decline");
                m.raw("<h3>Decline</h3><p>Every held pledge is refunded.</p>");
                form::field(m, filled, "reason", "Why", None, Input::Area, true);
                form::close(m, "Decline");
            }
        }
    }
    m.raw("</section>");
}

/// Checks what was typed for `stage`, refusing fields on `filled`.
fn stage_from(filled: &mut Filled, stage: &str, currency: &str) -> Option<StatusStage> {
    let text = |filled: &Filled, name: &str| filled.get(name).to_owned();
    match stage {
        "development" => {
            let code = Currency::parse(currency).ok()?;
            let goal = match code.parse_major(filled.get("goal")) {
                Ok(goal) if goal > 0 => goal,
                _ => {
                    filled.refuse("goal", format!("Enter a goal above zero in {currency}."));
                    return None;
                }
            };
            let note = text(filled, "note");
            Some(StatusStage::Development(Development {
                goal,
                currency: currency.to_owned(),
                note: (!note.is_empty()).then_some(note),
            }))
        }
        "preview" => {
            let url = text(filled, "url");
            if safe_url(&url).is_none() {
                filled.refuse("url", "Enter an http(s) address.");
            }
            let instructions = text(filled, "instructions");
            if instructions.is_empty() {
                filled.refuse("instructions", "Say how to try the preview.");
            }
            let ends = chrono::NaiveDate::parse_from_str(filled.get("ends"), "%Y-%m-%d").ok();
            let ends_at = ends
                .and_then(|day| day.and_hms_opt(23, 59, 59))
                .map(|end| end.and_utc())
                .filter(|end| *end > chrono::Utc::now());
            if ends_at.is_none() {
                filled.refuse("ends", "Enter a day in the future (YYYY-MM-DD).");
            }
            let ends_at = ends_at?;
            if filled.has_errors() {
                return None;
            }
            Some(StatusStage::Preview(Preview {
                url,
                instructions,
                ends_at: ends_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }))
        }
        "release" => {
            let source_url = text(filled, "source_url");
            if safe_url(&source_url).is_none() {
                filled.refuse("source_url", "Enter an http(s) address.");
            }
            let license = text(filled, "license");
            if license.is_empty() {
                filled.refuse("license", "Name the license, for example MIT.");
            }
            if filled.has_errors() {
                return None;
            }
            let revision = text(filled, "revision");
            Some(StatusStage::Release(Release {
                source_url,
                revision: (!revision.is_empty()).then_some(revision),
                license,
            }))
        }
        "decline" => {
            let reason = text(filled, "reason");
            if reason.is_empty() {
                filled.refuse(
                    "reason",
                    "Say why, for the people who estimated and backed it.",
                );
                return None;
            }
            Some(StatusStage::Decline(Decline { reason }))
        }
        _ => {
            filled.problem = Some("Choose what to do.".to_owned());
            None
        }
    }
}

/// `POST /proposal/{did}/{rkey}/status`.
pub async fn post(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let mut filled = filled(values);
    let (acting, view) = match acting_on(&app, &headers, &filled, &did, &rkey).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let stage = filled.get("stage").to_owned();
    if !moves(&view.stage).contains(&stage.as_str()) {
        filled.problem = Some(format!(
            "A proposal in {} cannot move to {stage}.",
            view.stage
        ));
    } else if let Some(next) = stage_from(&mut filled, &stage, &view.currency) {
        let subject = StrongRef {
            uri: view.uri.clone(),
            cid: view.cid.clone(),
        };
        match repo::create(&acting.agent, &records::status_record(subject, next), None).await {
            Ok(written) => {
                return after_write(&app, &page_path(Kind::Proposal, &view.uri), &written).await
            }
            Err(error) => filled.problem = Some(problem(&error)),
        }
    }
    let mut m = Markup::new();
    let only = moves(&view.stage)
        .contains(&stage.as_str())
        .then_some(stage.as_str());
    render(&mut m, &view, &acting.visitor.csrf, &filled, only);
    form_again(
        &acting.visitor,
        "Move the proposal",
        &page_path(Kind::Proposal, &view.uri),
        &m,
    )
}
