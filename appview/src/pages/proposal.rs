//! `/proposal/{did}/{rkey}`: everything a backer needs before giving money — who builds it,
//! what was promised, where the preview is, what happens to the money if the release never
//! comes — then the timeline, the proposal text, estimates, pledges and disputes.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use greenlight_funding::Stage;
use greenlight_lexicon::fund::greenlight::defs::{
    EstimateView, PledgeView, ProjectView, ProposalView, ProposalViewSubject,
};
use greenlight_lexicon::fund::greenlight::{list_estimates, list_pledges};
use greenlight_xrpc::XrpcError;

use super::actions;
use super::form::Filled;
use super::layout::{person_link, progress_bar, stage_pill};
use super::viewer::Viewer;
use crate::display::{actor_name, date, days, moment, money, percent};
use crate::embed::{self, page_path, Kind};
use crate::html::Markup;
use crate::{hydrate, oembed, xrpc, AppView};

/// Everything the page shows, loaded before rendering.
struct Loaded {
    view: ProposalView,
    project: Option<ProjectView>,
    estimates: (Vec<EstimateView>, bool),
    pledges: (Vec<PledgeView>, bool),
    disputes: Vec<hydrate::DisputeRow>,
    dispute_handles: HashMap<String, String>,
    /// What escrow fixed for the proposal that the view does not carry (its fee).
    terms: Option<hydrate::EscrowTerms>,
}

/// `GET /proposal/{did}/{rkey}`.
pub async fn page(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(uri) = embed::record_uri(Kind::Proposal, &did, &rkey) else {
        return super::not_found(&headers);
    };
    let viewer = Viewer::load(&app, &headers, &query).await;
    match load(&app, &uri).await {
        Ok(Some(loaded)) => {
            let actions = actions(&app, &viewer, &loaded).await;
            let (head, main) = render(&app, &loaded, &actions);
            viewer.respond(&headers, &loaded.view.title, &head, &main)
        }
        Ok(None) => viewer.not_yet(&headers, &uri),
        Err(error) => super::error_page(&headers, &error),
    }
}

/// What the viewer can do here: sign in, or the forms their role and the stage allow.
async fn actions(app: &AppView, viewer: &Viewer, loaded: &Loaded) -> Markup {
    let view = &loaded.view;
    let path = page_path(Kind::Proposal, &view.uri);
    let mut m = Markup::new();
    let Some(visitor) = &viewer.visitor else {
        if matches!(
            view.stage.as_str(),
            "proposed" | "development" | "preview" | "released"
        ) {
            m.raw("<p class=\"act\"><a class=\"button\" href=\"/sign-in?return=")
                .text(&crate::html::query_value(&path))
                .raw("\">Sign in to estimate, back or follow up</a></p>");
        }
        return m;
    };
    let csrf = visitor.csrf.as_str();
    let none = Filled::default();
    let maintains = loaded.project.as_ref().is_some_and(|project| {
        project.owner.did == visitor.did
            || project
                .maintainers
                .iter()
                .any(|person| person.did == visitor.did)
    });
    if maintains {
        actions::stages::render(&mut m, view, csrf, &none, None);
    }
    let stage = view.stage.as_str();
    if matches!(stage, "proposed" | "development" | "preview") {
        let cap = actions::estimating::cap(app, &visitor.did, &view.currency).await;
        let mine = loaded
            .estimates
            .0
            .iter()
            .find(|e| e.author.did == visitor.did);
        actions::estimating::render(&mut m, view, csrf, &none, &cap, mine);
    }
    if stage == "development" {
        actions::backing::render_gift(&mut m, view, csrf, &none, actions::backing::Gift::Donation);
    }
    if stage == "preview" {
        actions::backing::render_gift(&mut m, view, csrf, &none, actions::backing::Gift::Pledge);
        let mine: Vec<&PledgeView> = loaded
            .pledges
            .0
            .iter()
            .filter(|p| p.backer.did == visitor.did)
            .collect();
        if !mine.is_empty() {
            m.raw("<section class=\"act\" aria-labelledby=\"mine-h\"><h2 id=\"mine-h\">Your pledges</h2><ul>");
            for pledge in mine {
                m.raw("<li>")
                    .text(&money(pledge.amount, &pledge.currency))
                    .raw(" (")
                    .text(&pledge.state)
                    .raw(") ");
                super::form::open(
                    &mut m,
                    &format!(
                        "/backing/{}/cancel",
                        crate::html::path_segment(&pledge.receipt)
                    ),
                    csrf,
                    "Cancel this pledge",
                );
                super::form::close(&mut m, "Cancel pledge");
                m.raw("</li>");
            }
            m.raw("</ul></section>");
        }
    }
    // Until escrow has seen the release its end is unknown: the form shows, and escrow
    // answers whether it takes the dispute yet.
    let verifying = stage == "released"
        && !matches!(view.escrow_state.as_deref(), Some("paid" | "refunded"))
        && view
            .verification_ends_at
            .as_deref()
            .and_then(|end| chrono::DateTime::parse_from_rfc3339(end).ok())
            .is_none_or(|end| end > chrono::Utc::now());
    if verifying {
        actions::backing::render_dispute(&mut m, view, csrf, &none);
    }
    m
}

/// A list answer's items and its cursor.
type Listed<T> = (Vec<T>, Option<String>);

/// The items of a list answer (its items and cursor), and whether it has more pages; nothing
/// when the list failed (the rest of the page still helps).
fn list<T>(listed: Result<Option<Listed<T>>, XrpcError>, what: &str) -> (Vec<T>, bool) {
    match listed {
        Ok(Some((items, cursor))) => (items, cursor.is_some()),
        Ok(None) => {
            tracing::warn!("cannot list {what} for a proposal page: the proposal is not indexed");
            (Vec::new(), false)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot list {what} for a proposal page");
            (Vec::new(), false)
        }
    }
}

async fn load(app: &AppView, uri: &str) -> Result<Option<Loaded>, XrpcError> {
    let Some(view) = embed::load_proposal(app, uri).await? else {
        return Ok(None);
    };
    let project_uri = match &view.subject {
        ProposalViewSubject::ProjectRef(project) => Some(project.uri.as_str()),
        _ => None,
    };
    let estimates = list_estimates::Params {
        proposal: uri.to_owned(),
        limit: Some(100),
        cursor: None,
    };
    let pledges = list_pledges::Params {
        proposal: uri.to_owned(),
        limit: Some(100),
        cursor: None,
    };
    let (project, estimates, pledges, disputes, terms) = tokio::join!(
        async {
            match project_uri {
                Some(p) => embed::load_project(app, p).await,
                None => Ok(None),
            }
        },
        xrpc::estimates::list(app, estimates),
        xrpc::pledges::list(app, pledges),
        hydrate::disputes(app.pool(), uri, 100),
        hydrate::escrow_terms(app.pool(), uri),
    );
    let terms = terms?;
    let disputes = disputes?;
    let dispute_handles =
        hydrate::handles(app.pool(), disputes.iter().map(|d| d.did.as_str())).await?;
    Ok(Some(Loaded {
        project: project?,
        estimates: list(
            estimates.map(|o| o.map(|o| (o.estimates, o.cursor))),
            "estimates",
        ),
        pledges: list(pledges.map(|o| o.map(|o| (o.pledges, o.cursor))), "pledges"),
        view,
        disputes,
        dispute_handles,
        terms,
    }))
}

/// The stages in order, for the timeline (`declined` replaces `released` when it happened).
fn timeline_stages(current: &str) -> [Stage; 4] {
    let last = if current == Stage::Declined.as_str() {
        Stage::Declined
    } else {
        Stage::Released
    };
    [Stage::Proposed, Stage::Development, Stage::Preview, last]
}

/// Where a view's stage stands in the lifecycle; one this version does not know counts as
/// final.
fn stage_rank(stage: &str) -> u8 {
    Stage::parse(stage).map_or(Stage::Released.rank(), Stage::rank)
}

fn render(app: &AppView, loaded: &Loaded, actions: &Markup) -> (Markup, Markup) {
    let view = &loaded.view;
    let config = app.config();
    let public_url = &config.public_url;
    let title = &view.title;
    let stage = &view.stage;
    let currency = &view.currency;
    let totals = &view.totals;
    let pledged = totals.pledged_held.saturating_add(totals.paid_out);
    let goal = view.goal;
    let path = page_path(Kind::Proposal, &view.uri);
    let page_url = format!("{public_url}{path}");

    let mut head = Markup::new();
    head.raw("<link rel=\"alternate\" type=\"application/json+oembed\" href=\"")
        .text(&oembed::discovery_url(public_url, &page_url))
        .raw("\" title=\"")
        .text(title)
        .raw("\"><meta name=\"description\" content=\"")
        .text(&format!(
            "{} pledged toward a feature proposal on Greenlight.",
            money(pledged, currency)
        ))
        .raw("\">");

    let mut m = Markup::new();
    // Breadcrumbs and heading.
    m.raw("<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/\">Explore</a>");
    if let Some(project) = &loaded.project {
        m.raw(" <span aria-hidden=\"true\">›</span> <a href=\"")
            .text(&page_path(Kind::Project, &project.uri))
            .raw("\">")
            .text(&project.name)
            .raw("</a>");
    }
    m.raw("</nav><article class=\"proposal\"><header class=\"head\"><p>");
    stage_pill(&mut m, stage);
    m.raw("</p><h1>")
        .text(title)
        .raw("</h1><p class=\"byline\">Proposed by ");
    person_link(&mut m, &view.author);
    m.raw(" on ").text(&date(&view.created_at));
    let repository = match &view.subject {
        ProposalViewSubject::RepositoryRef(repository) => Some(repository.url.as_str()),
        _ => None,
    };
    match (&loaded.project, repository) {
        (Some(project), _) => {
            m.raw(" for ")
                .raw("<a href=\"")
                .text(&page_path(Kind::Project, &project.uri))
                .raw("\">")
                .text(&project.name)
                .raw("</a>");
        }
        (None, Some(repository)) => {
            m.raw(" for ").external_link(repository, repository);
        }
        (None, None) => {}
    }
    m.raw("</p></header>");

    // Funding at a glance.
    m.raw("<section class=\"funding\" aria-labelledby=\"funding\"><h2 id=\"funding\" class=\"sr-only\">Funding</h2><p class=\"big\"><strong>")
        .text(&money(pledged, currency))
        .raw("</strong> pledged");
    if let Some(goal) = goal {
        m.raw(" of a ")
            .text(&money(goal, currency))
            .raw(" goal</p>");
        progress_bar(&mut m, pledged, goal, "Pledged toward the goal");
    } else {
        m.raw("</p>");
    }
    let backers = totals.backer_count;
    let estimators = totals.estimate_count;
    m.raw("<dl class=\"stats\"><div><dt>Backers</dt><dd>")
        .num(backers)
        .raw("</dd></div><div><dt>Estimated</dt><dd>");
    if estimators == 0 {
        m.raw("None yet");
    } else {
        m.text(&money(totals.estimate_total, currency))
            .raw(" <span class=\"muted\">by ")
            .num(estimators)
            .raw(if estimators == 1 {
                " person"
            } else {
                " people"
            })
            .raw("</span>");
    }
    m.raw("</dd></div><div><dt>In escrow</dt><dd>")
        .raw(escrow_words(
            view.escrow_state.as_deref().unwrap_or_default(),
        ))
        .raw("</dd></div>");
    if totals.refunded > 0 {
        m.raw("<div><dt>Refunded</dt><dd>")
            .text(&money(totals.refunded, currency))
            .raw("</dd></div>");
    }
    m.raw("</dl></section>");

    before_you_back(&mut m, app, loaded);
    m.markup(actions);
    timeline(&mut m, view);

    // The proposal itself, as its author wrote it (Markdown, rendered safely).
    m.raw(
        "<section aria-labelledby=\"what\"><h2 id=\"what\">The proposal</h2><div class=\"prose\">",
    )
    .markdown(&view.body)
    .raw("</div>");
    if let Some(tags) = &view.tags {
        m.raw("<ul class=\"tags\" aria-label=\"Tags\">");
        for tag in tags {
            m.raw("<li>").text(tag).raw("</li>");
        }
        m.raw("</ul>");
    }
    m.raw("</section>");

    disputes(&mut m, loaded);
    estimates(&mut m, &loaded.estimates, currency);
    pledges(&mut m, &loaded.pledges);

    // Embeds.
    m.raw("<section aria-labelledby=\"embed\"><h2 id=\"embed\">Share and embed</h2><p><img src=\"")
        .text(&format!("{path}/badge.svg"))
        .raw("\" alt=\"Funding badge for this proposal\" height=\"20\"></p><label for=\"badge-md\">Badge for a README (Markdown)</label><textarea id=\"badge-md\" readonly rows=\"3\">")
        .text(&format!("[![Greenlight]({public_url}{path}/badge.svg)]({page_url})"))
        .raw("</textarea><label for=\"widget-html\">Widget for a web page (HTML)</label><textarea id=\"widget-html\" readonly rows=\"3\">")
        .text(&format!(
            "<iframe src=\"{public_url}{path}/widget\" width=\"400\" height=\"210\" style=\"border:0\" title=\"Greenlight funding\"></iframe>"
        ))
        .raw("</textarea></section></article>");
    (head, m)
}

fn escrow_words(state: &str) -> &'static str {
    match state {
        "open" => "Taking pledges",
        "verifying" => "Holding pledges during verification",
        "disputed" => "Payout frozen by an open dispute",
        "paid" => "Paid to the maintainer",
        "refunded" => "Refunded to backers",
        _ => "Nothing held yet",
    }
}

/// The plain-language box: who, what, where, and what happens to the money.
fn before_you_back(m: &mut Markup, app: &AppView, loaded: &Loaded) {
    let view = &loaded.view;
    let config = app.config();
    let currency = &view.currency;
    let stage = view.stage.as_str();
    // The fee escrow fixed for this proposal, else the one it publishes now.
    let fee_basis_points = loaded
        .terms
        .as_ref()
        .and_then(|t| u32::try_from(t.fee_basis_points).ok())
        .unwrap_or(config.platform_fee_basis_points);
    m.raw("<section class=\"backer\" aria-labelledby=\"before\"><h2 id=\"before\">Before you back this</h2><dl>");

    m.raw("<dt>Who builds it</dt><dd>");
    match &loaded.project {
        Some(project) => {
            person_link(m, &project.owner);
            m.raw(" maintains <a href=\"")
                .text(&page_path(Kind::Project, &project.uri))
                .raw("\">")
                .text(&project.name)
                .raw("</a>");
            if !project.maintainers.is_empty() {
                m.raw(", with ");
                for (i, maintainer) in project.maintainers.iter().enumerate() {
                    if i > 0 {
                        m.raw(", ");
                    }
                    person_link(m, maintainer);
                }
            }
            m.raw(". Only they can post progress on this proposal. Releases land in ");
            let repository = &project.repository;
            m.external_link(repository, repository).raw(".");
            let proven = project.proof.as_ref().is_some_and(|proof| proof.verified);
            if proven {
                m.raw(" The repository (or website) publishes a file naming this project: ");
            } else {
                m.raw(" <strong>The project has not proven that it controls its repository or website, so it cannot take money yet</strong>: ");
            }
            m.raw("<a href=\"")
                .text(&page_path(Kind::Project, &project.uri))
                .raw("#proof\">see the proof</a>.");
        }
        None => {
            m.raw("This proposal is about a repository whose maintainer is not on Greenlight yet, so nobody has taken it on. Money can only be pledged once a maintainer starts a preview.");
        }
    }
    m.raw("</dd>");

    // Who escrow pays is fixed with the terms when the first money arrives; the project
    // record can change hands later without redirecting the money.
    if let Some(payee) = &view.payee {
        m.raw("<dt>Who is paid</dt><dd>");
        person_link(m, payee);
        m.raw(", fixed by escrow");
        if let Some(terms) = &loaded.terms {
            m.raw(" on ")
                .text(&terms.terms_fixed_at.format("%-d %b %Y").to_string());
        }
        m.raw(
            " when the first money arrived. Later changes to the project do not redirect it.</dd>",
        );
    }

    m.raw("<dt>What is promised</dt><dd>");
    match view.goal {
        Some(goal) => {
            m.raw("The feature described below, released as open source. The maintainer set a goal of ")
                .text(&money(goal, currency))
                .raw(".");
        }
        None if stage == "proposed" => {
            m.raw("Nothing yet: the maintainer has not started development. People are estimating what they would pay.");
        }
        None => {
            m.raw("The feature described below, released as open source. No money goal was set.");
        }
    }
    m.raw("</dd>");

    m.raw("<dt>Where to try it</dt><dd>");
    match &view.preview {
        Some(preview) => {
            let url = &preview.url;
            m.raw("A public preview: ").external_link(url, url);
            let ends = &preview.ends_at;
            if !ends.is_empty() {
                m.raw(if ended(ends) {
                    ", which ended "
                } else {
                    ", open until "
                })
                .text(&moment(ends));
            }
            m.raw(".");
            let instructions = &preview.instructions;
            if !instructions.is_empty() {
                m.raw(" <span class=\"quote\">“")
                    .text(instructions)
                    .raw("”</span>");
            }
        }
        None => {
            m.raw("No preview yet. Pledges open when the maintainer publishes a preview you can try first.");
        }
    }
    m.raw("</dd>");

    let verification_ends = view.verification_ends_at.as_deref();
    match (stage, &view.release) {
        ("released", Some(release)) => {
            let source = &release.source_url;
            m.raw("<dt>The release</dt><dd>It came: the source is published at ")
                .external_link(source, source)
                .raw(" under ")
                .text(&release.license)
                .raw(". Check that it contains what the preview showed.</dd>");
        }
        ("released", None) => {
            // Escrow holds it released although the release record is gone or no longer
            // valid: backers must still learn that the dispute window is open.
            let settled = matches!(view.escrow_state.as_deref(), Some("paid" | "refunded"));
            m.raw("<dt>The release</dt><dd>The release was declared and escrow's verification ");
            if !settled && !verification_ends.is_some_and(ended) {
                m.raw("continues ");
                match verification_ends {
                    None => m.raw("by escrow's clock"),
                    Some(ends) => m.raw("until ").text(&moment(ends)),
                };
                m.raw(", so backers can still dispute.");
            } else {
                match verification_ends {
                    None => m.raw("has ended."),
                    Some(ends) => m.raw("ran until ").text(&moment(ends)).raw("."),
                };
            }
            m.raw(" The release record itself is no longer shown here (it was deleted or is not valid), so check the repository yourself.</dd>");
        }
        ("declined", _) => {
            m.raw("<dt>The money</dt><dd>The maintainer declined this proposal, so every pledge held for it is refunded in full. Nothing is kept.</dd>");
        }
        _ => {
            m.raw("<dt>If the release never comes</dt><dd>Your pledge waits in escrow; nobody is paid while it does. If the maintainer declines, or does not publish the source code within ")
                .num(days(config.release_grace) as i64)
                .raw(" days after the preview ends, every pledge is refunded in full. Nothing is ever kept. You can also cancel your pledge yourself while the preview is open.</dd>");
        }
    }

    m.raw("<dt>After the release</dt><dd>The money is held for a ")
        .num(days(config.verification_period) as i64)
        .raw("-day verification period so backers can check that the code was really released. Any backer can open a dispute then; if it is upheld, everyone is refunded. Otherwise the pledges are paid to the maintainer, minus a ")
        .text(&percent(fee_basis_points))
        .raw(" platform fee.");
    // Escrow's clock, never the release record's date, which its author can backdate.
    if let Some(started) = &view.verification_started_at {
        m.raw(" Escrow started this proposal's verification on ")
            .text(&moment(started))
            .raw(".");
    }
    if let Some(ends) = verification_ends {
        m.raw(if ended(ends) {
            " This proposal's verification ended "
        } else {
            " This proposal's verification ends "
        })
        .text(&moment(ends))
        .raw(", by escrow's clock.");
    }
    m.raw("</dd></dl></section>");
}

/// Whether a lexicon datetime is in the past (an unreadable one is not).
fn ended(at: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(at).is_ok_and(|at| at < chrono::Utc::now())
}

fn timeline(m: &mut Markup, view: &ProposalView) {
    let current = view.stage.as_str();
    let latest = |stage: Stage| {
        view.stage_history
            .iter()
            .rev()
            .find(|e| e.stage == stage.as_str())
    };
    let currency = &view.currency;
    let verification_started = view.verification_started_at.as_deref();
    m.raw("<section aria-labelledby=\"timeline\"><h2 id=\"timeline\">Timeline</h2><ol class=\"timeline\">");
    for stage in timeline_stages(current) {
        let state = match stage.rank().cmp(&stage_rank(current)) {
            std::cmp::Ordering::Less => "done",
            std::cmp::Ordering::Equal => "current",
            std::cmp::Ordering::Greater => "upcoming",
        };
        m.raw("<li class=\"").raw(state).raw("\"");
        if state == "current" {
            m.raw(" aria-current=\"step\"");
        }
        m.raw("><h3>")
            .raw(crate::display::stage_name(stage.as_str()))
            .raw("</h3>");
        let event = latest(stage);
        let when = match (stage, event, verification_started) {
            (Stage::Proposed, _, _) => Some(view.created_at.as_str()),
            // Escrow's clock: the release record's own date can be backdated.
            (Stage::Released, _, Some(started)) => Some(started),
            (_, Some(event), _) => Some(event.created_at.as_str()),
            _ => None,
        };
        match when {
            Some(when) if state != "upcoming" => {
                m.raw("<p class=\"when\">").text(&date(when));
                if let Some(event) = event {
                    m.raw(" · ").text(&actor_name(&event.author));
                }
                m.raw("</p>");
            }
            _ => {
                m.raw("<p class=\"when\">Not yet</p>");
            }
        }
        match stage {
            Stage::Development if state != "upcoming" => {
                if let Some(goal) = view.goal {
                    m.raw("<p>Goal: ").text(&money(goal, currency)).raw("</p>");
                }
            }
            Stage::Preview => {
                if let Some(preview) = &view.preview {
                    let url = &preview.url;
                    m.raw("<p>Preview: ").external_link(url, url);
                    let ends = &preview.ends_at;
                    if !ends.is_empty() {
                        m.raw(" · until ").text(&date(ends));
                    }
                    m.raw("</p>");
                }
            }
            Stage::Released => {
                if let Some(release) = &view.release {
                    let source = &release.source_url;
                    m.raw("<p>Source: ")
                        .external_link(source, source)
                        .raw("</p><p>License ")
                        .text(&release.license);
                    if let Some(revision) = release.revision.as_deref().filter(|r| !r.is_empty()) {
                        m.raw(" · revision <code>").text(revision).raw("</code>");
                    }
                    m.raw("</p>");
                } else if state == "current" {
                    m.raw("<p>The release record is no longer available; escrow still holds the proposal as released.</p>");
                }
                if let Some(ends) = &view.verification_ends_at {
                    m.raw("<p>Verification until ")
                        .text(&date(ends))
                        .raw("</p>");
                }
            }
            Stage::Declined => {
                if let Some(reason) = view.decline_reason.as_deref().filter(|r| !r.is_empty()) {
                    m.raw("<p class=\"quote\">“").text(reason).raw("”</p>");
                }
                m.raw("<p>Every pledge is refunded.</p>");
            }
            _ => {}
        }
        m.raw("</li>");
    }
    m.raw("</ol></section>");
}

fn disputes(m: &mut Markup, loaded: &Loaded) {
    if loaded.disputes.is_empty() && loaded.view.stage != "released" {
        return;
    }
    m.raw("<section aria-labelledby=\"disputes\"><h2 id=\"disputes\">Disputes</h2>");
    if loaded.disputes.is_empty() {
        m.raw("<p>No backer has disputed the release.</p>");
    } else {
        m.raw("<p>An operator reviews every dispute; an open dispute stops the payout until it is resolved.</p><ul class=\"list\">");
        for dispute in &loaded.disputes {
            let actor = crate::views::actor_ref(&dispute.did, &loaded.dispute_handles);
            m.raw("<li>");
            person_link(m, &actor);
            m.raw(" on ")
                .text(&dispute.created_at.format("%-d %b %Y").to_string())
                .raw(": <span class=\"quote\">“")
                .text(&dispute.record.reason)
                .raw("”</span>");
            for url in dispute.record.evidence.iter().flatten().take(10) {
                m.raw(" ").external_link(url, "evidence");
            }
            m.raw("</li>");
        }
        m.raw("</ul>");
    }
    m.raw("</section>");
}

fn estimates(m: &mut Markup, (estimates, more): &(Vec<EstimateView>, bool), currency: &str) {
    m.raw("<section aria-labelledby=\"estimates\"><h2 id=\"estimates\">Estimates</h2><p class=\"muted\">What people say they would pay. No money moves. An estimate counts at most twice the person's largest paid contribution (at least ")
        .text(&money(
            greenlight_funding::Currency::parse(currency)
                .map_or(2_500, |c| greenlight_funding::estimate_cap(None, c)),
            currency,
        ))
        .raw("), and estimates made after the preview began are shown but not counted.</p>");
    if estimates.is_empty() {
        m.raw("<p class=\"empty\">No estimates yet.</p></section>");
        return;
    }
    m.raw("<div class=\"table\"><table><thead><tr><th scope=\"col\">Who</th><th scope=\"col\" class=\"num\">Would pay</th><th scope=\"col\" class=\"num\">Counts</th></tr></thead><tbody>");
    for e in estimates {
        let currency = &e.currency;
        m.raw("<tr><td>");
        person_link(m, &e.author);
        m.raw("</td><td class=\"num\">")
            .text(&money(e.amount, currency))
            .raw("</td><td class=\"num\">")
            .text(&money(e.counted_amount, currency));
        if e.frozen {
            m.raw(" <span class=\"note\">after preview</span>");
        } else if e.capped {
            m.raw(" <span class=\"note\">capped</span>");
        }
        m.raw("</td></tr>");
    }
    m.raw("</tbody></table></div>");
    if *more {
        m.raw("<p class=\"muted\">Showing the newest 100.</p>");
    }
    m.raw("</section>");
}

fn pledges(m: &mut Markup, (pledges, more): &(Vec<PledgeView>, bool)) {
    m.raw("<section aria-labelledby=\"pledges\"><h2 id=\"pledges\">Pledges</h2>");
    if pledges.is_empty() {
        m.raw("<p class=\"empty\">No pledges yet.</p></section>");
        return;
    }
    m.raw("<div class=\"table\"><table><thead><tr><th scope=\"col\">Backer</th><th scope=\"col\" class=\"num\">Amount</th><th scope=\"col\">In escrow</th></tr></thead><tbody>");
    for p in pledges {
        m.raw("<tr><td>");
        person_link(m, &p.backer);
        m.raw("</td><td class=\"num\">")
            .text(&money(p.amount, &p.currency))
            .raw("</td><td>")
            .raw(match p.state.as_str() {
                "held" => "Held",
                "paid" => "Paid out",
                "refunded" => "Refunded",
                "cancelled" => "Cancelled",
                _ => "Not confirmed by escrow",
            })
            .raw("</td></tr>");
    }
    m.raw("</tbody></table></div>");
    if *more {
        m.raw("<p class=\"muted\">Showing the newest 100.</p>");
    }
    m.raw("</section>");
}
