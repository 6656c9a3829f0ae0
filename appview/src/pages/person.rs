//! `/person/{handle or did}`: what someone has contributed, their estimate cap, and the
//! projects they maintain. On one's own page also one's records, money, and retainers: the
//! ones one pays (invoices, paying, changing tier, cancelling) and, for a maintainer, one's
//! clients, upcoming payments and this year's income statement. Retainers are private
//! between client and maintainer, so they are read from escrow with the person's own
//! service-auth token, never from the public feeds; when escrow does not answer the rest
//! of the page is shown with a short notice.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use greenlight_lexicon::fund::greenlight::defs::ActorRef;
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::AgreementView;
use greenlight_lexicon::fund::greenlight::escrow::{
    get_income_statement, list_retainer_agreements,
};
use greenlight_lexicon::fund::greenlight::{
    get_actor, get_retainer_offer, list_projects, list_retainer_offers,
};

use super::actions::{self, retaining};
use super::form::Filled;
use super::viewer::Viewer;
use crate::display::{actor_name, date, money};
use crate::embed::{page_path, Kind};
use crate::html::{safe_url, Markup};
use crate::{hydrate, views, xrpc, AppView};

/// `GET /person/{actor}`.
pub async fn page(
    State(app): State<AppView>,
    Path(actor): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let viewer = Viewer::load(&app, &headers, &query).await;
    let person = match xrpc::actor::get(&app, get_actor::Params { actor }).await {
        Ok(Some(person)) => person,
        Ok(None) => return super::not_found(&headers),
        Err(error) => return super::error_page(&headers, &error),
    };
    let did = &person.did;
    let maintained = list_projects::Params {
        maintainer: Some(did.clone()),
        limit: Some(100),
        cursor: None,
    };
    let projects = match xrpc::projects::list(&app, maintained).await {
        Ok(listed) => listed.projects,
        Err(error) => return super::error_page(&headers, &error),
    };
    let name = actor_name(&ActorRef {
        did: did.clone(),
        handle: person.handle.clone(),
    });
    // One offer is enough to know whether to link to them; the link is not worth failing
    // the page over.
    let offers = list_retainer_offers::Params {
        maintainer: Some(did.clone()),
        project: None,
        limit: Some(1),
        cursor: None,
    };
    let has_offers = match xrpc::retainers::list(&app, offers).await {
        Ok(listed) => !listed.offers.is_empty(),
        Err(error) => {
            tracing::warn!(%error, "cannot list a person's retainer offers");
            false
        }
    };

    let mut m = Markup::new();
    m.raw("<header class=\"head\"><h1>")
        .text(&name)
        .raw("</h1><p class=\"byline muted\"><code>")
        .text(did)
        .raw("</code></p></header><dl class=\"stats\"><div><dt>Proposals</dt><dd>")
        .num(person.proposal_count)
        .raw("</dd></div><div><dt>Estimates</dt><dd>")
        .num(person.estimate_count)
        .raw("</dd></div><div><dt>Pledges</dt><dd>")
        .num(person.pledge_count)
        .raw("</dd></div></dl>");

    m.raw("<section aria-labelledby=\"contributions\"><h2 id=\"contributions\">Contributions</h2>");
    let contributions = &person.contributions;
    if contributions.is_empty() {
        m.raw("<p class=\"empty\">No paid pledges or donations yet.</p>");
    } else {
        m.raw("<div class=\"table\"><table><thead><tr><th scope=\"col\">Currency</th><th scope=\"col\" class=\"num\">Largest</th><th scope=\"col\" class=\"num\">Pledges paid</th><th scope=\"col\" class=\"num\">Donations</th></tr></thead><tbody>");
        for c in contributions {
            let currency = &c.currency;
            m.raw("<tr><td>")
                .text(currency)
                .raw("</td><td class=\"num\">")
                .text(&money(c.largest_successful, currency))
                .raw("</td><td class=\"num\">")
                .text(&money(c.total_paid, currency))
                .raw("</td><td class=\"num\">")
                .text(&money(c.donations, currency))
                .raw("</td></tr>");
        }
        m.raw("</tbody></table></div>");
    }
    m.raw("</section><section aria-labelledby=\"cap\"><h2 id=\"cap\">Estimate cap</h2><p>So that nobody can inflate demand with promises, an estimate counts at most twice the person's largest successful contribution in that currency, and at least 25 of it ($25, €25, ...).</p>");
    let caps = &person.estimate_caps;
    if caps.is_empty() {
        m.raw("<p>")
            .text(&name)
            .raw("'s estimates count up to ")
            .text(&money(
                greenlight_funding::estimate_cap(None, greenlight_funding::Currency::USD),
                "USD",
            ))
            .raw(".</p>");
    } else {
        m.raw("<ul class=\"list\">");
        for cap in caps {
            m.raw("<li>Estimates in ")
                .text(&cap.currency)
                .raw(" count up to <strong>")
                .text(&money(cap.cap, &cap.currency))
                .raw("</strong></li>");
        }
        m.raw("</ul>");
    }
    m.raw("</section><section aria-labelledby=\"maintains\"><h2 id=\"maintains\">Maintains</h2>");
    if projects.is_empty() {
        m.raw("<p class=\"empty\">No projects on Greenlight.</p>");
    } else {
        m.raw("<ul class=\"list\">");
        for project in &projects {
            m.raw("<li><a href=\"")
                .text(&page_path(Kind::Project, &project.uri))
                .raw("\">")
                .text(&project.name)
                .raw("</a></li>");
        }
        m.raw("</ul>");
    }
    if has_offers {
        m.raw("<p><a href=\"/retainers/")
            .segment(did)
            .raw("\">Retainers ")
            .text(&name)
            .raw(" offers</a></p>");
    }
    m.raw("</section>");
    if viewer.did() == Some(did.as_str()) {
        match own_records(&app, did).await {
            Ok(records) => own_activity(&mut m, &records),
            Err(error) => tracing::warn!(%error, "cannot list a person's own records"),
        }
        own_money(
            &mut m,
            &projects,
            viewer.csrf(),
            query.get("payout").map(String::as_str),
        );
        own_retainers(
            &app,
            &mut m,
            did,
            viewer.csrf(),
            has_offers,
            query.get("retainer").map(String::as_str),
        )
        .await;
    }
    viewer.respond(&headers, &name, &Markup::new(), &m)
}

/// One of a person's own records, as their page lists it.
struct OwnRecord {
    collection: String,
    subject: Option<String>,
    title: Option<String>,
    amount: Option<i64>,
    currency: Option<String>,
    receipt: Option<String>,
    uri: String,
}

/// A person's latest proposals, estimates and pledges (with what they are about).
async fn own_records(app: &AppView, did: &str) -> Result<Vec<OwnRecord>, sqlx::Error> {
    let collections = [
        greenlight_lexicon::fund::greenlight::proposal::NSID,
        greenlight_lexicon::fund::greenlight::estimate::NSID,
        greenlight_lexicon::fund::greenlight::pledge::NSID,
    ]
    .map(str::to_owned);
    let rows = sqlx::query!(
        r#"SELECT r.uri, r.collection, r.subject_uri,
                  COALESCE(r.body->>'title', s.body->>'title') AS title,
                  (r.body->>'amount')::bigint AS amount, r.body->>'currency' AS currency,
                  r.body->>'receipt' AS receipt
           FROM appview.record r
           LEFT JOIN appview.record s ON s.uri = r.subject_uri
           WHERE r.did = $1 AND r.collection = ANY($2) AND NOT r.hidden
           ORDER BY r.created_at DESC
           LIMIT 200"#,
        did,
        &collections,
    )
    .fetch_all(app.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| OwnRecord {
            collection: row.collection,
            subject: row.subject_uri,
            title: row.title,
            amount: row.amount,
            currency: row.currency,
            receipt: row.receipt,
            uri: row.uri,
        })
        .collect())
}

/// On one's own page: what one proposed, estimated and pledged (with escrow's receipts).
fn own_activity(m: &mut Markup, records: &[OwnRecord]) {
    use greenlight_lexicon::fund::greenlight::{estimate, pledge, proposal};
    for (collection, heading, empty) in [
        (
            proposal::NSID,
            "Your proposals",
            "You have not proposed anything yet.",
        ),
        (
            estimate::NSID,
            "Your estimates",
            "You have not estimated anything yet.",
        ),
        (
            pledge::NSID,
            "Your pledges",
            "You have not backed anything yet.",
        ),
    ] {
        m.raw("<section><h2>").text(heading).raw("</h2>");
        let mine: Vec<&OwnRecord> = records
            .iter()
            .filter(|r| r.collection == collection)
            .collect();
        if mine.is_empty() {
            m.raw("<p class=\"empty\">")
                .text(empty)
                .raw("</p></section>");
            continue;
        }
        m.raw("<ul class=\"list\">");
        for record in mine {
            let about = if collection == proposal::NSID {
                Some(&record.uri)
            } else {
                record.subject.as_ref()
            };
            let title = record.title.as_deref().unwrap_or("A proposal");
            m.raw("<li>");
            match about {
                Some(uri) => {
                    m.raw("<a href=\"")
                        .text(&page_path(Kind::Proposal, uri))
                        .raw("\">")
                        .text(title)
                        .raw("</a>");
                }
                None => {
                    m.text(title);
                }
            }
            if let (Some(amount), Some(currency)) = (record.amount, &record.currency) {
                m.raw(": ").text(&money(amount, currency));
            }
            if let Some(receipt) = &record.receipt {
                m.raw(" <span class=\"muted\">(escrow receipt <code>")
                    .text(receipt)
                    .raw("</code>)</span>");
            }
            m.raw("</li>");
        }
        m.raw("</ul></section>");
    }
}

/// On one's own page: money for the projects one maintains, and the payout account.
fn own_money(
    m: &mut Markup,
    projects: &[greenlight_lexicon::fund::greenlight::defs::ProjectView],
    csrf: &str,
    payout: Option<&str>,
) {
    m.raw("<section class=\"act\" aria-labelledby=\"money-h\"><h2 id=\"money-h\">Your money</h2>");
    if !projects.is_empty() {
        m.raw("<div class=\"table\"><table><thead><tr><th scope=\"col\">Project</th><th scope=\"col\" class=\"num\">Held in escrow</th><th scope=\"col\" class=\"num\">Paid out (before the platform fee)</th></tr></thead><tbody>");
        for project in projects {
            let currency = &project.currency;
            m.raw("<tr><td>")
                .text(&project.name)
                .raw("</td><td class=\"num\">")
                .text(&money(project.totals.pledged_held, currency))
                .raw("</td><td class=\"num\">")
                .text(&money(project.totals.paid_out, currency))
                .raw("</td></tr>");
        }
        m.raw("</tbody></table></div>");
    }
    match payout {
        Some(status) => {
            m.raw("<p role=\"status\">Your payout account is <strong>")
                .text(status)
                .raw("</strong>.</p>");
        }
        None => {
            m.raw("<p>To be paid, connect a payout account with escrow's payment provider.</p>");
        }
    }
    super::form::open(m, "/account/payout", csrf, "Connect a payout account");
    super::form::close(m, "Connect payout account");
    m.raw("</section>");
}

/// What escrow tells the person about their retainers.
struct Retainers {
    agreements: list_retainer_agreements::Output,
    /// This year's income statement (a maintainer's); `None` if escrow did not give it.
    income: Option<get_income_statement::Output>,
}

/// Asks escrow, as the person, for their agreements and (a maintainer's) this year's income.
async fn load_retainers(
    app: &AppView,
    did: &str,
    maintainer: bool,
) -> Result<Option<Retainers>, String> {
    let Some(escrow) = actions::escrow(app) else {
        return Ok(None);
    };
    let sign_in = app.sign_in().ok_or("no sign-in is configured")?;
    let agent = sign_in
        .agent(did)
        .await
        .map_err(|error| error.to_string())?;
    let agreements = escrow
        .list_retainer_agreements(&agent)
        .await
        .map_err(|error| error.to_string())?;
    let income = if maintainer || !agreements.as_maintainer.is_empty() {
        let year = chrono::Datelike::year(&chrono::Utc::now());
        match escrow.get_income_statement(&agent, year).await {
            Ok(income) => Some(income),
            Err(error) => {
                tracing::warn!(%error, "cannot read a maintainer's income statement");
                None
            }
        }
    } else {
        None
    };
    Ok(Some(Retainers { agreements, income }))
}

/// On one's own page: the retainers one pays and, for a maintainer, one's clients.
async fn own_retainers(
    app: &AppView,
    m: &mut Markup,
    did: &str,
    csrf: &str,
    has_offers: bool,
    done: Option<&str>,
) {
    let retainers = match load_retainers(app, did, has_offers).await {
        Ok(Some(retainers)) => retainers,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "cannot read a person's retainers from escrow");
            m.raw("<section aria-labelledby=\"retainers-h\"><h2 id=\"retainers-h\">Retainers</h2><p class=\"notice problem\" role=\"status\">Escrow did not answer, so your retainers are not shown right now. Reload the page in a moment.</p></section>");
            return;
        }
    };
    let agreements = &retainers.agreements;
    let dids = agreements
        .as_client
        .iter()
        .map(|a| a.maintainer.as_str())
        .chain(agreements.as_maintainer.iter().map(|a| a.client.as_str()));
    let handles = hydrate::handles(app.pool(), dids)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read handles");
            HashMap::new()
        });
    let message = match done {
        Some("started") => Some("Your retainer has started."),
        Some("tier") => Some("Your tier change is saved: it takes effect from the next period."),
        Some("cancelled") => Some("Your retainer is cancelled."),
        _ => None,
    };
    m.raw("<section aria-labelledby=\"paying-h\"><h2 id=\"paying-h\">Retainers you pay</h2>");
    if let Some(message) = message {
        m.raw("<p role=\"status\">").raw(message).raw("</p>");
    }
    if agreements.as_client.is_empty() {
        m.raw("<p class=\"empty\">You pay no retainers.</p>");
    }
    for agreement in &agreements.as_client {
        let tiers = offer_tiers(app, &agreement.offer.uri).await;
        paid_retainer(m, agreement, &handles, &tiers, csrf);
    }
    m.raw("</section>");
    if agreements.as_maintainer.is_empty() && !has_offers {
        return;
    }
    retainer_clients(m, &agreements.as_maintainer, &handles);
    income(m, retainers.income.as_ref());
    retaining::render_vendor_form(m, csrf, &Filled::default());
}

/// The names of an offer's tiers as indexed now (empty if it is gone).
async fn offer_tiers(app: &AppView, offer: &str) -> Vec<String> {
    let asked = get_retainer_offer::Params {
        uri: offer.to_owned(),
    };
    match xrpc::retainers::get(app, asked).await {
        Ok(Some(view)) => view.tiers.into_iter().map(|t| t.name).collect(),
        _ => Vec::new(),
    }
}

/// " per month", " per year".
fn per(period: &str) -> &'static str {
    match period {
        "month" => " per month",
        "year" => " per year",
        _ => "",
    }
}

/// One retainer the person pays: its terms, its invoices, and what they can do with it.
fn paid_retainer(
    m: &mut Markup,
    agreement: &AgreementView,
    handles: &HashMap<String, String>,
    tiers: &[String],
    csrf: &str,
) {
    let maintainer = actor_name(&views::actor_ref(&agreement.maintainer, handles));
    m.raw("<article class=\"card retainer\" id=\"agreement-")
        .segment(&agreement.id)
        .raw("\"><h3><a href=\"/retainers/")
        .segment(&agreement.maintainer)
        .raw("\">")
        .text(&maintainer)
        .raw("</a>: ")
        .text(&agreement.tier)
        .raw("</h3><dl class=\"facts\"><div><dt>State</dt><dd class=\"state\">")
        .text(&agreement.state)
        .raw("</dd></div><div><dt>Price</dt><dd>")
        .text(&money(agreement.amount, &agreement.currency))
        .raw(per(&agreement.period))
        .raw("</dd></div>");
    if let Some(ends) = &agreement.current_period_ends_at {
        m.raw("<div><dt>")
            .raw(if agreement.state == "cancelling" {
                "Ends"
            } else {
                "Period ends"
            })
            .raw("</dt><dd>")
            .text(&date(ends))
            .raw("</dd></div>");
    }
    if let Some(next) = &agreement.next_tier {
        m.raw("<div><dt>Next period</dt><dd>").text(next);
        if let Some(amount) = agreement.next_amount {
            m.raw(", ")
                .text(&money(amount, &agreement.currency))
                .raw(per(&agreement.period));
        }
        m.raw("</dd></div>");
    }
    m.raw("</dl>");
    if let Some(url) = agreement.payment_url.as_deref().and_then(safe_url) {
        m.raw("<p><a class=\"button pay\" target=\"_blank\" rel=\"noopener\" href=\"")
            .text(url)
            .raw("\">Pay</a></p>");
    }
    if agreement.state == "quoted" || agreement.state == "requested" {
        m.raw("<p><a href=\"")
            .text(&retaining::agreement_path(&agreement.id))
            .raw("\">See the quote and start the retainer</a></p>");
    }
    let invoices = agreement.invoices.as_deref().unwrap_or_default();
    if !invoices.is_empty() {
        m.raw("<div class=\"table\"><table class=\"invoices\"><thead><tr><th scope=\"col\">Invoice</th><th scope=\"col\">Period</th><th scope=\"col\" class=\"num\">Amount</th><th scope=\"col\">State</th><th scope=\"col\">Documents</th></tr></thead><tbody>");
        for invoice in invoices {
            m.raw("<tr><td>")
                .text(&invoice.number)
                .raw("</td><td>")
                .text(&retaining::period(
                    &invoice.period_starts_at,
                    &invoice.period_ends_at,
                ))
                .raw("</td><td class=\"num\">")
                .text(&money(invoice.amount, &invoice.currency))
                .raw("</td><td>")
                .text(&invoice.state)
                .raw("</td><td>");
            documents(
                m,
                invoice.document_url.as_deref(),
                invoice.pdf_url.as_deref(),
            );
            m.raw("</td></tr>");
        }
        m.raw("</tbody></table></div>");
    }
    retaining::render_change_tier(m, agreement, tiers, csrf);
    retaining::render_cancel(m, agreement, csrf);
    m.raw("</article>");
}

/// Links to a document's HTML and PDF, where they are safe to link.
fn documents(m: &mut Markup, html: Option<&str>, pdf: Option<&str>) {
    let mut any = false;
    for (url, label) in [(html, "HTML"), (pdf, "PDF")] {
        if let Some(url) = url.and_then(safe_url) {
            if any {
                m.raw(" · ");
            }
            m.raw("<a href=\"")
                .text(url)
                .raw("\">")
                .raw(label)
                .raw("</a>");
            any = true;
        }
    }
    if !any {
        m.raw("<span class=\"muted\">None</span>");
    }
}

/// A maintainer's clients (named to them, listed or not) and the payments coming.
fn retainer_clients(
    m: &mut Markup,
    agreements: &[AgreementView],
    handles: &HashMap<String, String>,
) {
    m.raw("<section aria-labelledby=\"clients-h\"><h2 id=\"clients-h\">Your retainer clients</h2>");
    if agreements.is_empty() {
        m.raw("<p class=\"empty\">No company retains you yet.</p></section>");
        return;
    }
    m.raw("<div class=\"table\"><table class=\"clients\"><thead><tr><th scope=\"col\">Client</th><th scope=\"col\">Tier</th><th scope=\"col\" class=\"num\">Amount</th><th scope=\"col\">State</th><th scope=\"col\">Listed</th></tr></thead><tbody>");
    for agreement in agreements {
        m.raw("<tr><td><a href=\"/person/")
            .segment(&agreement.client)
            .raw("\">")
            .text(&actor_name(&views::actor_ref(&agreement.client, handles)))
            .raw("</a></td><td>")
            .text(&agreement.tier)
            .raw("</td><td class=\"num\">")
            .text(&money(agreement.amount, &agreement.currency))
            .raw(per(&agreement.period))
            .raw("</td><td>")
            .text(&agreement.state)
            .raw("</td><td>")
            .raw(if agreement.listed_publicly == Some(true) {
                "Yes"
            } else {
                "No"
            })
            .raw("</td></tr>");
    }
    m.raw("</tbody></table></div><h3>Upcoming payments</h3>");
    // A cancelling agreement ends with its paid period: nothing more comes from it.
    let upcoming: Vec<&AgreementView> = agreements
        .iter()
        .filter(|a| a.state == "active" || a.state == "past_due")
        .filter(|a| a.current_period_ends_at.is_some())
        .collect();
    if upcoming.is_empty() {
        m.raw("<p class=\"empty\">No payments are coming.</p>");
    } else {
        m.raw("<ul class=\"list upcoming\">");
        for agreement in upcoming {
            let next = agreement.current_period_ends_at.as_deref().unwrap_or("");
            m.raw("<li>")
                .text(&date(next))
                .raw(": ")
                .text(&money(
                    agreement.next_amount.unwrap_or(agreement.amount),
                    &agreement.currency,
                ))
                .raw(" from ")
                .text(&actor_name(&views::actor_ref(&agreement.client, handles)))
                .raw(" (")
                .text(agreement.next_tier.as_deref().unwrap_or(&agreement.tier))
                .raw(")</li>");
        }
        m.raw("</ul>");
    }
    m.raw("</section>");
}

/// This year's income statement, per currency, with its documents.
fn income(m: &mut Markup, statement: Option<&get_income_statement::Output>) {
    m.raw("<section aria-labelledby=\"income-h\"><h2 id=\"income-h\">Income this year</h2>");
    let Some(statement) = statement else {
        m.raw("<p class=\"notice problem\" role=\"status\">Escrow did not give this year's income statement right now.</p></section>");
        return;
    };
    if statement.currencies.is_empty() {
        m.raw("<p class=\"empty\">No income in ")
            .num(statement.year)
            .raw(" yet.</p></section>");
        return;
    }
    m.raw("<div class=\"table\"><table class=\"income\"><thead><tr><th scope=\"col\">Currency</th><th scope=\"col\" class=\"num\">Gross</th><th scope=\"col\" class=\"num\">Fees</th><th scope=\"col\" class=\"num\">Net</th><th scope=\"col\" class=\"num\">From retainers</th><th scope=\"col\">Statement</th></tr></thead><tbody>");
    for c in &statement.currencies {
        let currency = &c.currency;
        m.raw("<tr><td>")
            .text(currency)
            .raw("</td><td class=\"num\">")
            .text(&money(c.gross, currency))
            .raw("</td><td class=\"num\">")
            .text(&money(c.fees, currency))
            .raw("</td><td class=\"num\">")
            .text(&money(c.net, currency))
            .raw("</td><td class=\"num\">")
            .text(&money(c.retainers, currency))
            .raw("</td><td>");
        documents(m, Some(&c.html_url), Some(&c.pdf_url));
        m.raw("</td></tr>");
    }
    m.raw("</tbody></table></div></section>");
}
