//! Money from the pages: pledging during the preview (through escrow's checkout, then the
//! pledge record), cancelling a pledge while the preview is open, donating during
//! development, disputing a release during verification, and connecting a payout account.
//!
//! Escrow is always asked first and is the truth about money; records only attribute it.
//! Every call that moves money carries an idempotency key fixed when the form was shown,
//! so submitting twice (a double click, a retry after an error) moves money once.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use greenlight_client::{backing, records, repo, ClientError};
use greenlight_funding::Currency;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::defs::ProposalView;
use greenlight_lexicon::fund::greenlight::escrow::defs::PledgeView;
use greenlight_lexicon::fund::greenlight::pledge;

use super::{
    acting_on, acting_with_escrow, after_delete, after_write, escrow, filled, form_again, problem,
    NoEscrow,
};
use crate::embed::{page_path, Kind};
use crate::html::{query_value, safe_url, Markup};
use crate::pages::form::{self, Filled, Input};
use crate::pages::layout::page_for;
use crate::pages::sign_in::{private_page, refusal_page, see_other};
use crate::sign_in::browser;
use crate::sign_in::seal::random_token;
use crate::AppView;

/// Which money form: a pledge (preview) or a donation (development).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gift {
    /// Held in escrow until the release is verified.
    Pledge,
    /// Paid to the maintainer now, minus the fee.
    Donation,
}

impl Gift {
    fn path(self) -> &'static str {
        match self {
            Gift::Pledge => "pledge",
            Gift::Donation => "donate",
        }
    }
}

/// The pledge or donation form on a proposal page.
pub fn render_gift(m: &mut Markup, view: &ProposalView, csrf: &str, filled: &Filled, gift: Gift) {
    let action = format!("{}/{}", page_path(Kind::Proposal, &view.uri), gift.path());
    let (heading, text, button) = match gift {
        Gift::Pledge => (
            "Back this feature",
            "Your pledge waits in escrow. It is paid to the maintainer only after the code is released as open source and the verification period passes; otherwise it is refunded. You can cancel it while the preview is open.",
            "Pledge",
        ),
        Gift::Donation => (
            "Donate to its development",
            "A donation is paid to the maintainer now, minus the platform fee; it is not held in escrow and is not refunded.",
            "Donate",
        ),
    };
    m.raw("<section class=\"act\" aria-labelledby=\"")
        .raw(gift.path())
        .raw("-h\"><h2 id=\"")
        .raw(gift.path())
        .raw("-h\">")
        .raw(heading)
        .raw("</h2><p>")
        .raw(text)
        .raw("</p>");
    form::problem(m, filled);
    form::open(m, &action, csrf, heading);
    // The idempotency key is fixed with the form: sending it twice moves money once.
    let key = match filled.get("key") {
        "" => random_token(18),
        key => key.to_owned(),
    };
    form::hidden(m, "key", &key);
    let label = format!("Amount in {}", view.currency);
    form::field(m, filled, "gift_amount", &label, None, Input::Text, true);
    form::close(m, button);
    m.raw("</section>");
}

/// The dispute form on a proposal page during verification.
pub fn render_dispute(m: &mut Markup, view: &ProposalView, csrf: &str, filled: &Filled) {
    let action = format!("{}/dispute", page_path(Kind::Proposal, &view.uri));
    m.raw("<section class=\"act\" aria-labelledby=\"dispute-h\"><h2 id=\"dispute-h\">Dispute the release</h2><p>If the release does not contain what the preview showed, say so before the verification period ends: payout waits until escrow's operator decides.</p>");
    form::problem(m, filled);
    form::open(m, &action, csrf, "Dispute");
    let key = match filled.get("key") {
        "" => random_token(18),
        key => key.to_owned(),
    };
    form::hidden(m, "key", &key);
    form::field(
        m,
        filled,
        "reason",
        "What is wrong",
        None,
        Input::Area,
        true,
    );
    form::field(
        m,
        filled,
        "evidence",
        "Links that show it (optional, one per line)",
        None,
        Input::Area,
        false,
    );
    form::close(m, "File dispute");
    m.raw("</section>");
}

fn amount(filled: &mut Filled, currency: &str) -> Option<i64> {
    let Ok(code) = Currency::parse(currency) else {
        filled.problem = Some(format!("{currency} is not a currency Greenlight takes."));
        return None;
    };
    match code.parse_major(filled.get("gift_amount")) {
        Ok(amount) if amount > 0 => Some(amount),
        Ok(_) => {
            filled.refuse("gift_amount", "Enter an amount above zero.");
            None
        }
        Err(error) => {
            filled.refuse(
                "gift_amount",
                format!("Enter an amount in {currency}: {error}."),
            );
            None
        }
    }
}

/// What a person is told when this AppView has no escrow to back proposals through.
const NO_ESCROW: NoEscrow = NoEscrow {
    title: "Backing is not available",
    detail: "This Greenlight has no escrow configured, so it cannot take money.",
};

/// `POST /proposal/{did}/{rkey}/pledge` and `/donate`.
async fn give(
    app: AppView,
    did: String,
    rkey: String,
    headers: HeaderMap,
    values: HashMap<String, String>,
    gift: Gift,
) -> Response {
    let mut filled = filled(values);
    let (acting, view) = match acting_on(&app, &headers, &filled, &did, &rkey).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(escrow) = escrow(&app) else {
        return NO_ESCROW.page(&acting.visitor);
    };
    let back = page_path(Kind::Proposal, &view.uri);
    if filled.get("key").len() < 8 {
        filled.problem = Some("This form is incomplete; please fill it in again.".to_owned());
    } else if let Some(amount) = amount(&mut filled, &view.currency) {
        let subject = StrongRef {
            uri: view.uri.clone(),
            cid: view.cid.clone(),
        };
        let key = format!("web-{}", filled.get("key"));
        let payment =
            match greenlight_client::escrow::Payment::new(&subject, amount, &view.currency, &key) {
                Ok(payment) => payment,
                Err(error) => {
                    return form_again(
                        &acting.visitor,
                        "Back this feature",
                        &back,
                        &Markup::new().text(&error.to_string()).clone(),
                    )
                }
            };
        match gift {
            Gift::Pledge => match escrow.create_pledge(&acting.agent, &payment).await {
                Ok(pledge) => return see_other(&format!("/backing/{}", query_value(&pledge.id))),
                Err(error) => filled.problem = Some(problem(&error)),
            },
            // Escrow has no query for one donation, so the checkout is shown in this answer
            // rather than through a page whose address could name any checkout (a
            // phishing link on our domain). Sending the form again (same key) shows the same
            // donation.
            Gift::Donation => match escrow.create_donation(&acting.agent, &payment).await {
                Ok(donation) => {
                    return donation_page(&acting.visitor, &back, donation.checkout_url.as_deref())
                }
                Err(error) => filled.problem = Some(problem(&error)),
            },
        }
    }
    let mut m = Markup::new();
    render_gift(&mut m, &view, &acting.visitor.csrf, &filled, gift);
    form_again(&acting.visitor, "Back this feature", &back, &m)
}

/// `POST /proposal/{did}/{rkey}/pledge`.
pub async fn pledge(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    give(app, did, rkey, headers, values, Gift::Pledge).await
}

/// `POST /proposal/{did}/{rkey}/donate`.
pub async fn donate(
    State(app): State<AppView>,
    Path((did, rkey)): Path<(String, String)>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    give(app, did, rkey, headers, values, Gift::Donation).await
}

/// The record key of the pledge record for escrow pledge `pledge` (see
/// [`greenlight_client::records::receipt_record_key`]).
pub fn pledge_record_key(pledge: &PledgeView) -> String {
    greenlight_client::records::receipt_record_key(&pledge.id, &pledge.created_at)
}

/// `GET /backing/{pledge}`: the backer's pledge on its way through checkout. While escrow
/// waits for the payment the page links to the checkout and refreshes itself; once escrow
/// holds the money it writes the pledge record and goes back to the proposal.
pub async fn pledge_page(
    State(app): State<AppView>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let visitor = match browser::visitor(app.pool(), &headers).await {
        Ok(Some(visitor)) => visitor,
        _ => return see_other(&format!("/sign-in?return=/backing/{}", query_value(&id))),
    };
    let Some(escrow) = escrow(&app) else {
        return NO_ESCROW.page(&visitor);
    };
    let pledge = match escrow.get_pledge(&id).await {
        Ok(pledge) if pledge.backer == visitor.did => pledge,
        Ok(_) | Err(ClientError::Service { .. }) => return crate::pages::not_found(&headers),
        Err(error) => {
            return refusal_page(
                Some(&visitor),
                StatusCode::SERVICE_UNAVAILABLE,
                "Escrow did not answer",
                &problem(&error),
            )
        }
    };
    let back = page_path(Kind::Proposal, &pledge.proposal.uri);
    let money = crate::display::money(pledge.amount, &pledge.currency);
    let mut m = Markup::new();
    let mut head = Markup::new();
    match pledge.state.as_str() {
        "pending" => {
            head.raw("<meta http-equiv=\"refresh\" content=\"2\">");
            m.raw("<h1>Pay your pledge of ").text(&money).raw("</h1><p>Escrow is waiting for the payment. Pay in the checkout (it opens in a new tab); this page moves on by itself once escrow has it.</p>");
            if let Some(url) = pledge.checkout_url.as_deref().and_then(safe_url) {
                m.raw("<p><a class=\"button\" target=\"_blank\" rel=\"noopener\" href=\"")
                    .text(url)
                    .raw("\">Pay in the checkout</a></p>");
            }
            m.raw("<p><a href=\"")
                .text(&back)
                .raw("\">Back to the proposal</a></p>");
        }
        "held" => {
            let Some(sign_in) = app.sign_in() else {
                return crate::pages::sign_in::sign_in_failed(
                    &crate::sign_in::SignInError::Internal,
                );
            };
            let agent = match sign_in.agent(&visitor.did).await {
                Ok(agent) => agent,
                Err(error) => return crate::pages::sign_in::sign_in_failed(&error),
            };
            let record = records::pledge_record(
                pledge.proposal.clone(),
                pledge.amount,
                &pledge.currency,
                &pledge.id,
            );
            match repo::put(&agent, &record, &pledge_record_key(&pledge)).await {
                Ok(written) => return after_write(&app, &back, &written).await,
                Err(error) => {
                    m.raw("<h1>Your pledge of ").text(&money).raw(" is held in escrow</h1><p role=\"alert\">")
                        .text(&problem(&error))
                        .raw(" The money is safe in escrow; reload this page to try writing the public record again.</p>");
                }
            }
        }
        state => {
            m.raw("<h1>Pledge ")
                .text(state)
                .raw("</h1><p>Escrow reports this pledge of ")
                .text(&money)
                .raw(" as ")
                .text(state)
                .raw(". Nothing is held.</p><p><a href=\"")
                .text(&back)
                .raw("\">Back to the proposal</a></p>");
        }
    }
    private_page(
        StatusCode::OK,
        page_for(Some(&visitor), "Your pledge", &head, &m),
    )
}

/// `POST /backing/{pledge}/cancel`: cancels one's pledge (refunded in full) and deletes its
/// record.
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
    let pledge = match escrow.get_pledge(&id).await {
        Ok(pledge) if pledge.backer == acting.visitor.did => pledge,
        _ => return crate::pages::not_found(&headers),
    };
    let back = page_path(Kind::Proposal, &pledge.proposal.uri);
    let record = format!(
        "at://{}/{}/{}",
        acting.visitor.did,
        pledge::NSID,
        pledge_record_key(&pledge)
    );
    match backing::cancel(&acting.agent, &escrow, &pledge.id, Some(&record)).await {
        Ok(_) => after_delete(&app, &back, &record).await,
        Err(error) => refusal_page(
            Some(&acting.visitor),
            StatusCode::BAD_REQUEST,
            "The pledge was not cancelled",
            &problem(&error),
        ),
    }
}

/// The answer to a donation: escrow's checkout to pay at, and the way back.
fn donation_page(visitor: &browser::Visitor, back: &str, checkout: Option<&str>) -> Response {
    let mut m = Markup::new();
    m.raw("<h1>Pay your donation</h1>");
    match checkout.and_then(safe_url) {
        Some(url) => {
            m.raw("<p>Pay in the checkout. The donation shows on the proposal once the payment arrives.</p><p><a class=\"button\" target=\"_blank\" rel=\"noopener\" href=\"")
                .text(url)
                .raw("\">Pay in the checkout</a></p>");
        }
        None => {
            m.raw("<p>Escrow already has this donation.</p>");
        }
    }
    m.raw("<p><a href=\"")
        .text(back)
        .raw("\">Back to the proposal</a></p>");
    private_page(
        StatusCode::OK,
        page_for(Some(visitor), "Your donation", &Markup::new(), &m),
    )
}

/// `POST /proposal/{did}/{rkey}/dispute`: files the dispute with escrow (which freezes the
/// payout), then writes the dispute record.
pub async fn dispute(
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
    let Some(escrow) = escrow(&app) else {
        return NO_ESCROW.page(&acting.visitor);
    };
    let back = page_path(Kind::Proposal, &view.uri);
    let reason = filled.get("reason").to_owned();
    if reason.is_empty() {
        filled.refuse("reason", "Say what is wrong with the release.");
    }
    let evidence: Vec<String> = filled
        .get("evidence")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if evidence.iter().any(|link| safe_url(link).is_none()) {
        filled.refuse("evidence", "Each line must be an http(s) address.");
    }
    if filled.get("key").len() < 8 {
        filled.problem = Some("This form is incomplete; please fill it in again.".to_owned());
    }
    if !filled.has_errors() {
        let subject = StrongRef {
            uri: view.uri.clone(),
            cid: view.cid.clone(),
        };
        let key = format!("web-{}", filled.get("key"));
        let filed = escrow
            .file_dispute(&acting.agent, &subject, &reason, &evidence, &key)
            .await;
        match filed {
            Ok(_) => {
                let record = records::dispute_record(subject, &reason, evidence);
                match repo::create(&acting.agent, &record, None).await {
                    Ok(written) => return after_write(&app, &back, &written).await,
                    Err(error) => filled.problem = Some(format!("Escrow has your dispute and payout is frozen, but the public record was not written: {}", problem(&error))),
                }
            }
            Err(error) => filled.problem = Some(problem(&error)),
        }
    }
    let mut m = Markup::new();
    render_dispute(&mut m, &view, &acting.visitor.csrf, &filled);
    form_again(&acting.visitor, "Dispute the release", &back, &m)
}

/// `POST /account/payout`: connects the maintainer's payout account with escrow's provider
/// (the sandbox activates it at once; Stripe answers an onboarding page to continue at).
pub async fn connect_payout(
    State(app): State<AppView>,
    headers: HeaderMap,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let filled = filled(values);
    let (acting, escrow) = match acting_with_escrow(&app, &headers, &filled, NO_ESCROW).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let me = format!("/person/{}", crate::html::path_segment(&acting.visitor.did));
    match escrow.connect_payout_account(&acting.agent).await {
        Ok(account) => match account.onboarding_url.as_deref().and_then(safe_url) {
            Some(url) => {
                let mut m = Markup::new();
                m.raw("<h1>Finish connecting your payout account</h1><p>The payment provider needs a few details from you.</p><p><a class=\"button\" href=\"")
                    .text(url)
                    .raw("\">Continue with the provider</a></p>");
                private_page(
                    StatusCode::OK,
                    page_for(Some(&acting.visitor), "Payout account", &Markup::new(), &m),
                )
            }
            None => see_other(&format!("{me}?payout={}", query_value(&account.status))),
        },
        Err(error) => refusal_page(
            Some(&acting.visitor),
            StatusCode::BAD_REQUEST,
            "The payout account was not connected",
            &problem(&error),
        ),
    }
}
