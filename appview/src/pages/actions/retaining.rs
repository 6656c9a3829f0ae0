//! Retainers from the pages: becoming a client (a quote from escrow for one tier, then
//! starting it, then the public `fund.greenlight.retainer` record when the client asked to
//! be listed), and, from one's own page, changing tier and cancelling.
//!
//! Escrow is asked first and is the truth about the agreement and its money; the record only
//! attributes it, and the AppView lists it only as far as escrow confirms it. Every escrow
//! call carries an idempotency key fixed when the form was shown, so sending a form twice (a
//! double click, a retry after an error) asks once. A key escrow answered with a refusal is
//! replaced when the form is shown again, so the corrected request is not a conflicting
//! reuse of it.
//!
//! Routes and fields (the end-to-end test drives these):
//! - `POST /retainers/{did}/quote`: `csrf`, `key`, `offer` (at-uri), `offer_cid`, `tier`,
//!   `legal_name`, `address`, `tax_id`, `purchase_order`, `email`, `collection`
//!   (`invoice` | `card`), `listed` (`yes` when checked) → 303 to the agreement's page;
//! - `GET /retainers/agreement/{id}`: the quote with the "Start the retainer" form;
//! - `POST /retainers/agreement/{id}/start`: `csrf`, `key` → the record written (listed) and
//!   303 to `/person/{did}?written=…`, or 303 to `/person/{did}?retainer=started`;
//! - `POST /retainers/agreement/{id}/tier`: `csrf`, `key`, `tier` → `/person/{did}?retainer=tier`;
//! - `POST /retainers/agreement/{id}/cancel`: `csrf`, `key` → `/person/{did}?retainer=cancelled`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use greenlight_client::escrow::QuoteRequest;
use greenlight_client::{records, repo, ClientError};
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::{
    AgreementView, BillingDetails, VendorDetails,
};
use greenlight_lexicon::fund::greenlight::get_retainer_offer;
use greenlight_lexicon::fund::greenlight::retainer_defs::OfferView;

use super::{acting_with_escrow, after_write, escrow, filled, form_again, problem, NoEscrow};
use crate::display::{actor_name, date, money};
use crate::html::{path_segment, safe_url, Markup};
use crate::pages::form::{self, Filled, Input};
use crate::pages::layout::page_for;
use crate::pages::sign_in::{private_page, refusal_page, see_other};
use crate::sign_in::browser::{self, Visitor};
use crate::sign_in::seal::random_token;
use crate::{hydrate, xrpc, AppView};

/// The lexicon's limits on billing details (`escrow.retainerDefs#billingDetails`): bytes,
/// and characters where it also counts graphemes (a character count is never below the
/// grapheme count, so staying under it stays under the lexicon).
const LEGAL_NAME: (usize, usize) = (1000, 200);
const ADDRESS: (usize, usize) = (2000, 500);
const TAX_ID: usize = 64;
const PURCHASE_ORDER: usize = 128;
const EMAIL: usize = 320;

/// The path of an agreement's page.
pub fn agreement_path(id: &str) -> String {
    format!("/retainers/agreement/{}", path_segment(id))
}

/// The path of one's own page, where retainers land.
fn own_page(did: &str) -> String {
    format!("/person/{}", path_segment(did))
}

/// A form's idempotency key: the one it was shown with, or a new one.
fn key_of(filled: &Filled) -> String {
    match filled.get("key") {
        "" => random_token(18),
        key => key.to_owned(),
    }
}

/// The "Become a client" form under an offer.
pub fn render_become_client(m: &mut Markup, offer: &OfferView, csrf: &str, filled: &Filled) {
    let action = format!("/retainers/{}/quote", path_segment(&offer.maintainer.did));
    m.raw("<div class=\"act\" aria-label=\"Become a client\"><h3>Become a client</h3><p>Escrow sends you a quote for the tier you choose; nothing is owed until you start the retainer. Each period is invoiced to the company below and paid to the maintainer at once, minus the platform fee.</p>");
    form::problem(m, filled);
    form::open(m, &action, csrf, "Become a client");
    form::hidden(m, "key", &key_of(filled));
    form::hidden(m, "offer", &offer.uri);
    form::hidden(m, "offer_cid", &offer.cid);
    let chosen = match filled.get("tier") {
        "" => offer.tiers.first().map_or("", |t| t.name.as_str()),
        tier => tier,
    };
    m.raw("<fieldset class=\"field\"><legend>Tier</legend>");
    if let Some(error) = filled.errors.get("tier") {
        m.raw("<p class=\"field-error\">").text(error).raw("</p>");
    }
    for tier in &offer.tiers {
        m.raw("<label><input type=\"radio\" name=\"tier\" value=\"")
            .text(&tier.name)
            .raw("\"")
            .raw(if tier.name == chosen { " checked" } else { "" })
            .raw(" required> ")
            .text(&tier.name)
            .raw(": ")
            .text(&money(tier.amount, &tier.currency))
            .raw(per(&tier.period))
            .raw("</label>");
    }
    m.raw("</fieldset>");
    form::field(
        m,
        filled,
        "legal_name",
        "Company's legal name",
        Some("As it should appear on the quote and invoices."),
        Input::Text,
        true,
    );
    form::field(
        m,
        filled,
        "address",
        "Billing address",
        None,
        Input::Area,
        true,
    );
    form::field(
        m,
        filled,
        "tax_id",
        "Tax or VAT id (optional)",
        None,
        Input::Text,
        false,
    );
    form::field(
        m,
        filled,
        "purchase_order",
        "Purchase order number (optional)",
        Some("Printed on the quote and every invoice."),
        Input::Text,
        false,
    );
    form::field(
        m,
        filled,
        "email",
        "Email for quotes and invoices (optional)",
        None,
        Input::Text,
        false,
    );
    let collection = match filled.get("collection") {
        "card" => "card",
        _ => "invoice",
    };
    m.raw("<fieldset class=\"field\"><legend>How to pay each period</legend>");
    if let Some(error) = filled.errors.get("collection") {
        m.raw("<p class=\"field-error\">").text(error).raw("</p>");
    }
    for (value, label) in [
        ("invoice", "Invoice, paid by bank transfer"),
        ("card", "Card"),
    ] {
        m.raw("<label><input type=\"radio\" name=\"collection\" value=\"")
            .raw(value)
            .raw("\"")
            .raw(if value == collection { " checked" } else { "" })
            .raw("> ")
            .raw(label)
            .raw("</label>");
    }
    m.raw("</fieldset><div class=\"field\"><label><input type=\"checkbox\" name=\"listed\" value=\"yes\"")
        .raw(if filled.get("listed") == "yes" {
            " checked"
        } else {
            ""
        })
        .raw("> List us publicly among the maintainer's clients</label><p class=\"hint\">Otherwise your company is counted but never named, and no record is written to your repository.</p></div>");
    form::close(m, "Request a quote");
    m.raw("</div>");
}

/// " per month", " per year".
fn per(period: &str) -> &'static str {
    match period {
        "month" => " per month",
        "year" => " per year",
        _ => "",
    }
}

/// What a person is told when this AppView has no escrow to bill retainers through.
const NO_ESCROW: NoEscrow = NoEscrow {
    title: "Retainers are not available",
    detail: "This Greenlight has no escrow configured, so it cannot bill retainers.",
};

/// A text field that must fit the lexicon: `None` (refused) when it does not.
fn bounded(
    filled: &mut Filled,
    name: &str,
    required: bool,
    bytes: usize,
    chars: usize,
) -> Option<String> {
    let value = filled.get(name).to_owned();
    if required && value.is_empty() {
        filled.refuse(name, "This is needed for the quote and invoices.");
        return None;
    }
    if value.len() > bytes || value.chars().count() > chars {
        filled.refuse(name, format!("At most {chars} characters."));
        return None;
    }
    Some(value)
}

/// The billing details typed, or `None` with the problems recorded field by field.
fn billing(filled: &mut Filled) -> Option<BillingDetails> {
    let legal_name = bounded(filled, "legal_name", true, LEGAL_NAME.0, LEGAL_NAME.1);
    let address = bounded(filled, "address", true, ADDRESS.0, ADDRESS.1);
    let tax_id = bounded(filled, "tax_id", false, TAX_ID, TAX_ID);
    let purchase_order = bounded(
        filled,
        "purchase_order",
        false,
        PURCHASE_ORDER,
        PURCHASE_ORDER,
    );
    let email = bounded(filled, "email", false, EMAIL, EMAIL);
    if let Some(email) = &email {
        let plausible =
            email.is_empty() || (email.contains('@') && !email.chars().any(char::is_whitespace));
        if !plausible {
            filled.refuse("email", "Enter an email address, or leave it empty.");
            return None;
        }
    }
    let optional = |v: Option<String>| v.filter(|v| !v.is_empty());
    Some(BillingDetails {
        legal_name: legal_name?,
        address: address?,
        tax_id: optional(Some(tax_id?)),
        purchase_order: optional(Some(purchase_order?)),
        email: optional(Some(email?)),
    })
}

/// `POST /retainers/{did}/quote`: asks escrow for a quote for one tier of the maintainer's
/// offer, then shows it on the agreement's page.
pub async fn quote(
    State(app): State<AppView>,
    Path(did): Path<String>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let mut filled = filled(values);
    let (acting, escrow) = match acting_with_escrow(&app, &headers, &filled, NO_ESCROW).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let asked = get_retainer_offer::Params {
        uri: filled.get("offer").to_owned(),
    };
    let offer = match xrpc::retainers::get(&app, asked).await {
        Ok(Some(offer)) if offer.maintainer.did == did => offer,
        Ok(_) => return crate::pages::not_found(&headers),
        Err(error) => return crate::pages::error_page(&headers, &error),
    };
    let back = format!("/retainers/{}", path_segment(&did));
    if acting.visitor.did == did {
        filled.problem = Some("You cannot be a client of your own offer.".to_owned());
    }
    let key = filled.get("key").to_owned();
    if key.len() < 8 || key.len() > 100 {
        filled.problem = Some("This form is incomplete; please fill it in again.".to_owned());
    }
    if !offer.authorized {
        filled.problem = Some(
            offer
                .refusal
                .clone()
                .unwrap_or_else(|| "This offer cannot be sold.".to_owned()),
        );
    }
    if filled.get("offer_cid") != offer.cid {
        // What the person read is not what escrow would quote: show the offer as it is now.
        filled.problem = Some(
            "The maintainer changed this offer since you opened the page. Check the tiers and send the form again."
                .to_owned(),
        );
        filled
            .values
            .insert("offer_cid".to_owned(), offer.cid.clone());
    }
    let tier = filled.get("tier").to_owned();
    if !offer.tiers.iter().any(|t| t.name == tier) {
        filled.refuse("tier", "Choose one of the offer's tiers.");
    }
    let collection = filled.get("collection").to_owned();
    if collection != "invoice" && collection != "card" {
        filled.refuse("collection", "Choose invoice or card.");
    }
    let details = billing(&mut filled);
    if let (false, Some(billing)) = (filled.has_errors(), details) {
        let key = format!("web-{key}");
        let request = QuoteRequest {
            offer: StrongRef {
                uri: offer.uri.clone(),
                cid: offer.cid.clone(),
            },
            tier: &tier,
            billing,
            collection: &collection,
            listed_publicly: filled.get("listed") == "yes",
            idempotency_key: &key,
        };
        match escrow.request_quote(&acting.agent, &request).await {
            Ok(agreement) => return see_other(&agreement_path(&agreement.id)),
            Err(error) => {
                if matches!(error, ClientError::Service { .. }) {
                    // Escrow refused this request: a corrected one needs its own key.
                    filled.values.remove("key");
                }
                filled.problem = Some(problem(&error));
            }
        }
    }
    let mut m = Markup::new();
    render_become_client(&mut m, &offer, &acting.visitor.csrf, &filled);
    form_again(&acting.visitor, "Become a client", &back, &m)
}

/// The signed-in visitor and their agreement `id` as escrow reports it to them (its client),
/// or the page to show instead.
async fn own_agreement(
    app: &AppView,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Visitor, AgreementView), Response> {
    let visitor = match browser::visitor(app.pool(), headers).await {
        Ok(Some(visitor)) => visitor,
        _ => {
            return Err(see_other(&format!(
                "/sign-in?return={}",
                crate::html::query_value(&agreement_path(id))
            )))
        }
    };
    let Some(escrow) = escrow(app) else {
        return Err(NO_ESCROW.page(&visitor));
    };
    let Some(sign_in) = app.sign_in() else {
        return Err(crate::pages::sign_in::sign_in_failed(
            &crate::sign_in::SignInError::Internal,
        ));
    };
    let agent = match sign_in.agent(&visitor.did).await {
        Ok(agent) => agent,
        Err(error) => return Err(crate::pages::sign_in::sign_in_failed(&error)),
    };
    match escrow.get_retainer_agreement(&agent, id).await {
        Ok(agreement) if agreement.client == visitor.did => Ok((visitor, agreement)),
        Ok(_) | Err(ClientError::Service { .. }) => Err(crate::pages::not_found(headers)),
        Err(error) => Err(refusal_page(
            Some(&visitor),
            StatusCode::SERVICE_UNAVAILABLE,
            "Escrow did not answer",
            &problem(&error),
        )),
    }
}

/// `GET /retainers/agreement/{id}`: the client's quote with the "Start the retainer" form,
/// or where the agreement is now.
pub async fn agreement_page(
    State(app): State<AppView>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (visitor, agreement) = match own_agreement(&app, &headers, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut head = Markup::new();
    let mut m = Markup::new();
    render_agreement_page(
        &app,
        &mut m,
        &mut head,
        &visitor,
        &agreement,
        &Filled::default(),
    )
    .await;
    private_page(
        StatusCode::OK,
        page_for(Some(&visitor), "Your retainer", &head, &m),
    )
}

/// The quote (and start form) or the agreement's state.
async fn render_agreement_page(
    app: &AppView,
    m: &mut Markup,
    head: &mut Markup,
    visitor: &Visitor,
    agreement: &AgreementView,
    filled: &Filled,
) {
    let handles = hydrate::handles(app.pool(), [agreement.maintainer.as_str()])
        .await
        .unwrap_or_default();
    let maintainer = actor_name(&crate::views::actor_ref(&agreement.maintainer, &handles));
    let price = format!(
        "{}{}",
        money(agreement.amount, &agreement.currency),
        per(&agreement.period)
    );
    match agreement.state.as_str() {
        "requested" => {
            head.raw("<meta http-equiv=\"refresh\" content=\"2\">");
            m.raw("<h1>Your quote is on its way</h1><p>Escrow is preparing the quote; this page refreshes by itself.</p>");
        }
        "quoted" => {
            m.raw("<h1>Your quote</h1><dl class=\"facts\"><div><dt>Maintainer</dt><dd><a href=\"/retainers/")
                .segment(&agreement.maintainer)
                .raw("\">")
                .text(&maintainer)
                .raw("</a></dd></div><div><dt>Tier</dt><dd class=\"tier\">")
                .text(&agreement.tier)
                .raw("</dd></div><div><dt>Price</dt><dd class=\"price\">")
                .text(&price)
                .raw("</dd></div><div><dt>Payment</dt><dd>")
                .raw(if agreement.collection == "card" {
                    "Card"
                } else {
                    "Invoice, paid by bank transfer"
                })
                .raw("</dd></div><div><dt>Listed publicly</dt><dd>")
                .raw(if agreement.listed_publicly == Some(true) {
                    "Yes"
                } else {
                    "No"
                })
                .raw("</dd></div>");
            if let Some(number) = &agreement.quote_number {
                m.raw("<div><dt>Quote number</dt><dd>")
                    .text(number)
                    .raw("</dd></div>");
            }
            m.raw("</dl>");
            if let Some(url) = agreement.quote_url.as_deref().and_then(safe_url) {
                m.raw("<p><a class=\"quote\" target=\"_blank\" rel=\"noopener\" href=\"")
                    .text(url)
                    .raw("\">The quote document</a></p>");
            }
            m.raw("<p>Starting the retainer begins the first period today and issues its invoice. You can change tier from the next period, or cancel at the end of a paid period, from your page.</p>");
            form::problem(m, filled);
            form::open(
                m,
                &format!("{}/start", agreement_path(&agreement.id)),
                &visitor.csrf,
                "Start the retainer",
            );
            form::hidden(m, "key", &key_of(filled));
            form::close(m, "Start the retainer");
        }
        state => {
            m.raw("<h1>Your retainer with ")
                .text(&maintainer)
                .raw("</h1><p>Escrow reports it as <strong>")
                .text(state)
                .raw("</strong> (")
                .text(&agreement.tier)
                .raw(", ")
                .text(&price)
                .raw(").</p>");
        }
    }
    m.raw("<p><a href=\"")
        .text(&own_page(&visitor.did))
        .raw("\">Your retainers and invoices</a></p>");
}

/// `POST /retainers/agreement/{id}/start`: accepts the quote; when the client asked to be
/// listed, writes their public record of it; then their own page.
pub async fn start(
    State(app): State<AppView>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let mut filled = filled(values);
    let (acting, escrow) = match acting_with_escrow(&app, &headers, &filled, NO_ESCROW).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let me = own_page(&acting.visitor.did);
    let key = filled.get("key").to_owned();
    let answer = if key.len() < 8 || key.len() > 100 {
        Err("This form is incomplete; please reload the page and try again.".to_owned())
    } else {
        match escrow
            .start_retainer(&acting.agent, &id, &format!("web-{key}"))
            .await
        {
            Ok(agreement) if agreement.client == acting.visitor.did => Ok(agreement),
            Ok(_) => return crate::pages::not_found(&headers),
            Err(error) => Err(problem(&error)),
        }
    };
    let agreement = match answer {
        Ok(agreement) => agreement,
        Err(why) => {
            filled.problem = Some(why);
            // The quote as escrow has it now, with the form again.
            return match escrow.get_retainer_agreement(&acting.agent, &id).await {
                Ok(agreement) if agreement.client == acting.visitor.did => {
                    let (mut head, mut m) = (Markup::new(), Markup::new());
                    render_agreement_page(
                        &app,
                        &mut m,
                        &mut head,
                        &acting.visitor,
                        &agreement,
                        &filled,
                    )
                    .await;
                    private_page(
                        StatusCode::BAD_REQUEST,
                        page_for(Some(&acting.visitor), "Your retainer", &head, &m),
                    )
                }
                _ => refusal_page(
                    Some(&acting.visitor),
                    StatusCode::BAD_REQUEST,
                    "The retainer was not started",
                    filled.problem.as_deref().unwrap_or(""),
                ),
            };
        }
    };
    if agreement.listed_publicly != Some(true) {
        return see_other(&format!("{me}?retainer=started"));
    }
    let record = records::retainer_record(agreement.offer.clone(), &agreement.tier, &agreement.id);
    let rkey = greenlight_client::records::receipt_record_key(&agreement.id, &agreement.created_at);
    match repo::put(&acting.agent, &record, &rkey).await {
        Ok(written) => after_write(&app, &me, &written).await,
        Err(error) => {
            // The retainer runs; only the attribution is missing. Sending the same form
            // again is safe (escrow answers the same key with the same agreement) and
            // writes the record again.
            filled.problem = Some(format!(
                "Your retainer has started, but the public record naming you as a client was not written: {}",
                problem(&error)
            ));
            let mut m = Markup::new();
            m.raw("<h1>Your retainer has started</h1>");
            form::problem(&mut m, &filled);
            form::open(
                &mut m,
                &format!("{}/start", agreement_path(&agreement.id)),
                &acting.visitor.csrf,
                "Write the public record again",
            );
            form::hidden(&mut m, "key", &key);
            form::close(&mut m, "Write the public record again");
            m.raw("<p><a href=\"")
                .text(&me)
                .raw("\">Your retainers and invoices</a></p>");
            private_page(
                StatusCode::BAD_GATEWAY,
                page_for(Some(&acting.visitor), "Your retainer", &Markup::new(), &m),
            )
        }
    }
}

/// The change-tier form of an active agreement on the client's own page: `tiers` are the
/// offer's (the one in force, or the change pending, is chosen).
pub fn render_change_tier(m: &mut Markup, agreement: &AgreementView, tiers: &[String], csrf: &str) {
    if agreement.state != "active" || tiers.len() < 2 {
        return;
    }
    let chosen = agreement.next_tier.as_deref().unwrap_or(&agreement.tier);
    form::open(
        m,
        &format!("{}/tier", agreement_path(&agreement.id)),
        csrf,
        "Change tier",
    );
    form::hidden(m, "key", &random_token(18));
    let id = format!("tier-{}", path_segment(&agreement.id));
    m.raw("<div class=\"field\"><label for=\"")
        .text(&id)
        .raw("\">Tier from the next period</label><select name=\"tier\" id=\"")
        .text(&id)
        .raw("\">");
    for tier in tiers {
        m.raw("<option")
            .raw(if tier == chosen { " selected" } else { "" })
            .raw(">")
            .text(tier)
            .raw("</option>");
    }
    m.raw("</select></div>");
    form::close(m, "Change tier");
}

/// The cancel button of an agreement that can still be cancelled.
pub fn render_cancel(m: &mut Markup, agreement: &AgreementView, csrf: &str) {
    let (button, note) = match agreement.state.as_str() {
        "active"
            if agreement
                .invoices
                .iter()
                .flatten()
                .any(|i| i.state == "paid") =>
        {
            (
                "Cancel the retainer",
                "It runs to the end of the paid period, then ends.",
            )
        }
        "active" | "past_due" => (
            "Cancel the retainer",
            "Nothing is paid for the current period, so it ends now and its invoice is void.",
        ),
        "requested" | "quoted" => ("Withdraw the quote", "Nothing is owed."),
        _ => return,
    };
    form::open(
        m,
        &format!("{}/cancel", agreement_path(&agreement.id)),
        csrf,
        button,
    );
    form::hidden(m, "key", &random_token(18));
    m.raw("<p class=\"hint\">").raw(note).raw("</p>");
    form::close(m, button);
}

/// `POST /retainers/agreement/{id}/tier`: another tier from the next period.
pub async fn change_tier(
    State(app): State<AppView>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let filled = filled(values);
    let (acting, escrow) = match acting_with_escrow(&app, &headers, &filled, NO_ESCROW).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let (tier, key) = (filled.get("tier"), filled.get("key"));
    if tier.is_empty() || key.len() < 8 || key.len() > 100 {
        return refusal_page(
            Some(&acting.visitor),
            StatusCode::BAD_REQUEST,
            "The tier was not changed",
            "This form is incomplete; please reload your page and try again.",
        );
    }
    match escrow
        .change_retainer_tier(&acting.agent, &id, tier, &format!("web-{key}"))
        .await
    {
        Ok(_) => see_other(&format!("{}?retainer=tier", own_page(&acting.visitor.did))),
        Err(error) => refusal_page(
            Some(&acting.visitor),
            StatusCode::BAD_REQUEST,
            "The tier was not changed",
            &problem(&error),
        ),
    }
}

/// `POST /retainers/agreement/{id}/cancel`: cancels (at the end of the paid period, or at
/// once when nothing is paid).
pub async fn cancel(
    State(app): State<AppView>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let filled = filled(values);
    let (acting, escrow) = match acting_with_escrow(&app, &headers, &filled, NO_ESCROW).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let key = filled.get("key");
    if key.len() < 8 || key.len() > 100 {
        return refusal_page(
            Some(&acting.visitor),
            StatusCode::BAD_REQUEST,
            "The retainer was not cancelled",
            "This form is incomplete; please reload your page and try again.",
        );
    }
    match escrow
        .cancel_retainer(&acting.agent, &id, &format!("web-{key}"))
        .await
    {
        Ok(_) => see_other(&format!(
            "{}?retainer=cancelled",
            own_page(&acting.visitor.did)
        )),
        Err(error) => refusal_page(
            Some(&acting.visitor),
            StatusCode::BAD_REQUEST,
            "The retainer was not cancelled",
            &problem(&error),
        ),
    }
}

/// Where a maintainer's details as the vendor on their invoices are set.
pub const VENDOR_PATH: &str = "/retainers/vendor";

/// The form setting how a maintainer appears as the vendor on their quotes and invoices.
pub fn render_vendor_form(m: &mut Markup, csrf: &str, filled: &Filled) {
    m.raw("<section aria-labelledby=\"vendor-h\"><h2 id=\"vendor-h\">Your details on invoices</h2><p>Companies' accounts payable need the vendor's legal name and address on every quote and invoice. What you enter here is kept by escrow, shown only on your own clients' documents, and used from the next document on; documents already issued keep what they said.</p>");
    form::problem(m, filled);
    form::open(m, VENDOR_PATH, csrf, "Your details on invoices");
    form::field(
        m,
        filled,
        "vendor_legal_name",
        "Your legal name, or your business's",
        None,
        Input::Text,
        true,
    );
    form::field(
        m,
        filled,
        "vendor_address",
        "Postal address",
        None,
        Input::Area,
        true,
    );
    form::field(
        m,
        filled,
        "vendor_tax_id",
        "Tax or VAT id (optional)",
        None,
        Input::Text,
        false,
    );
    form::field(
        m,
        filled,
        "vendor_email",
        "Email for questions about invoices (optional)",
        None,
        Input::Text,
        false,
    );
    form::close(m, "Save my details");
    m.raw("</section>");
}

/// `POST /retainers/vendor`: stores the maintainer's vendor details with escrow.
pub async fn vendor(
    State(app): State<AppView>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let mut filled = filled(values);
    let (acting, escrow) = match acting_with_escrow(&app, &headers, &filled, NO_ESCROW).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let legal_name = bounded(
        &mut filled,
        "vendor_legal_name",
        true,
        LEGAL_NAME.0,
        LEGAL_NAME.1,
    );
    let address = bounded(&mut filled, "vendor_address", true, ADDRESS.0, ADDRESS.1);
    let tax_id = bounded(&mut filled, "vendor_tax_id", false, TAX_ID, TAX_ID);
    let email = bounded(&mut filled, "vendor_email", false, EMAIL, EMAIL);
    if let (false, Some(legal_name), Some(address), Some(tax_id), Some(email)) =
        (filled.has_errors(), legal_name, address, tax_id, email)
    {
        let details = VendorDetails {
            legal_name,
            address,
            tax_id: Some(tax_id).filter(|v| !v.is_empty()),
            email: Some(email).filter(|v| !v.is_empty()),
        };
        match escrow.set_vendor_details(&acting.agent, &details).await {
            Ok(_) => {
                return see_other(&format!(
                    "{}?retainer=vendor",
                    own_page(&acting.visitor.did)
                ))
            }
            Err(error) => filled.problem = Some(problem(&error)),
        }
    }
    let mut m = Markup::new();
    render_vendor_form(&mut m, &acting.visitor.csrf, &filled);
    form_again(
        &acting.visitor,
        "Your details on invoices",
        &own_page(&acting.visitor.did),
        &m,
    )
}

/// An invoice's period for people, by its first and last day: `1 Mar 2026 – 31 Mar 2026`
/// (escrow's `periodEndsAt` is the instant the next period begins).
pub fn period(starts: &str, ends: &str) -> String {
    let last_day = chrono::DateTime::parse_from_rfc3339(ends)
        .map(|end| (end - chrono::Duration::milliseconds(1)).to_rfc3339())
        .unwrap_or_else(|_| ends.to_owned());
    format!("{} – {}", date(starts), date(&last_day))
}
