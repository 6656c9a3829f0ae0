//! `retainer`: maintenance retainers. A maintainer publishes an offer with tiers; a company
//! asks escrow for a quote, starts it, changes tier or cancels; both read the agreement with
//! its invoices, and the maintainer their income statement.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use greenlight_cli::money::minor_units;
use greenlight_cli::output::{money, Output};
use greenlight_cli::pledging::new_idempotency_key;
use greenlight_cli::records;
use greenlight_client::escrow::QuoteRequest;
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::{
    AgreementView, BillingDetails, VendorDetails,
};
use greenlight_lexicon::fund::greenlight::retainer_offer::{Included, RetainerOffer, Tier};
use serde_json::json;

use super::Context;

#[derive(Subcommand)]
pub enum RetainerCommand {
    /// Publish a retainer offer in your repository (you must own or co-maintain what it covers).
    Offer(OfferArgs),
    /// Ask escrow for a quote for one tier of an offer, as the paying company.
    Quote(QuoteArgs),
    /// Accept a quote: the first period is invoiced at once.
    Start(AgreementArgs),
    /// Move to another tier of the same offer from the next period.
    ChangeTier(ChangeTierArgs),
    /// Cancel: the agreement ends when the paid period ends.
    Cancel(AgreementArgs),
    /// Show one agreement with its invoices (its client or maintainer).
    Show(ShowArgs),
    /// Your agreements, as client and as maintainer.
    List,
    /// Your income for a year, from escrow's ledger (maintainers).
    Income(IncomeArgs),
    /// How you appear as the vendor on your retainers' quotes and invoices (maintainers).
    Vendor(VendorArgs),
}

#[derive(Args)]
pub struct VendorArgs {
    /// Your legal name, or your business's, as invoices must show it.
    #[arg(long)]
    legal_name: String,
    /// Your postal address (use \n between lines).
    #[arg(long)]
    address: String,
    /// VAT or other tax id.
    #[arg(long)]
    tax_id: Option<String>,
    /// Where clients write about invoices.
    #[arg(long)]
    email: Option<String>,
}

#[derive(Args)]
pub struct OfferArgs {
    /// What the retainer is for, for the companies reading it.
    #[arg(long)]
    description: String,
    /// A project it covers (AT-URI of your fund.greenlight.project record); repeatable.
    #[arg(long = "project")]
    projects: Vec<String>,
    /// A repository it covers; repeatable.
    #[arg(long = "repository")]
    repositories: Vec<String>,
    /// A tier: `NAME:AMOUNT CURRENCY/PERIOD[:INCLUDED][:seats=N]`, e.g.
    /// `Partner:1500 USD/month:risk,access`; INCLUDED is any of risk, access, advisory.
    /// Repeat for each tier.
    #[arg(long = "tier", required = true)]
    tiers: Vec<String>,
    /// Where the terms are.
    #[arg(long)]
    terms_url: Option<String>,
}

#[derive(Args)]
pub struct QuoteArgs {
    /// AT-URI of the retainer offer.
    offer: String,
    /// The tier's name.
    #[arg(long)]
    tier: String,
    /// The company's legal name, as on the invoice.
    #[arg(long)]
    legal_name: String,
    /// The company's address (use \n between lines).
    #[arg(long)]
    address: String,
    /// VAT or other tax id.
    #[arg(long)]
    tax_id: Option<String>,
    /// Your purchase-order number, printed on every invoice.
    #[arg(long)]
    purchase_order: Option<String>,
    /// Where invoices are sent.
    #[arg(long)]
    email: Option<String>,
    /// `invoice` (bank transfer) or `card`.
    #[arg(long, default_value = "invoice")]
    collection: String,
    /// Name your company among the maintainer's clients (otherwise only the money shows).
    #[arg(long)]
    listed: bool,
    /// Reuse the key of an interrupted request.
    #[arg(long)]
    idempotency_key: Option<String>,
}

#[derive(Args)]
pub struct AgreementArgs {
    /// Escrow's agreement id.
    agreement: String,
    /// Reuse the key of an interrupted request.
    #[arg(long)]
    idempotency_key: Option<String>,
}

#[derive(Args)]
pub struct ChangeTierArgs {
    /// Escrow's agreement id.
    agreement: String,
    /// The new tier's name.
    tier: String,
    /// Reuse the key of an interrupted request.
    #[arg(long)]
    idempotency_key: Option<String>,
}

#[derive(Args)]
pub struct ShowArgs {
    /// Escrow's agreement id.
    agreement: String,
}

#[derive(Args)]
pub struct IncomeArgs {
    /// The calendar year.
    #[arg(long)]
    year: i32,
}

/// A tier typed as `NAME:AMOUNT CURRENCY/PERIOD[:INCLUDED][:seats=N]`.
fn parse_tier(spec: &str) -> anyhow::Result<Tier> {
    let mut parts = spec.split(':');
    let name = parts.next().filter(|n| !n.trim().is_empty());
    let price = parts.next();
    let (Some(name), Some(price)) = (name, price) else {
        anyhow::bail!(
            "tier {spec:?}: write NAME:AMOUNT CURRENCY/PERIOD, e.g. Partner:1500 USD/month"
        );
    };
    let (amount_currency, period) = price
        .split_once('/')
        .with_context(|| format!("tier {spec:?}: the price needs a /month or /year"))?;
    let (amount, currency) = amount_currency.trim().split_once(' ').with_context(|| {
        format!("tier {spec:?}: write the amount and the currency, e.g. 1500 USD")
    })?;
    let currency = currency.trim().to_uppercase();
    let amount = minor_units(amount.trim(), &currency)?;
    let period = period.trim().to_lowercase();
    anyhow::ensure!(
        period == "month" || period == "year",
        "tier {spec:?}: the period is month or year"
    );
    let mut included = Included {
        risk_mitigation: false,
        reciprocal_access: false,
        advisory: false,
        details: None,
    };
    let mut seat_limit = None;
    for part in parts {
        if let Some(seats) = part.strip_prefix("seats=") {
            seat_limit = Some(
                seats
                    .parse()
                    .with_context(|| format!("tier {spec:?}: seats"))?,
            );
            continue;
        }
        for item in part.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "risk" => included.risk_mitigation = true,
                "access" => included.reciprocal_access = true,
                "advisory" => included.advisory = true,
                other => {
                    anyhow::bail!("tier {spec:?}: {other:?} is not one of risk, access, advisory")
                }
            }
        }
    }
    Ok(Tier {
        name: name.trim().to_owned(),
        amount,
        currency,
        period,
        included,
        seat_limit,
    })
}

fn describe(agreement: &AgreementView) -> String {
    let mut text = format!(
        "agreement {}: {} tier, {} per {}, {}",
        agreement.id,
        agreement.tier,
        money(agreement.amount, &agreement.currency),
        agreement.period,
        agreement.state
    );
    if let (Some(tier), Some(amount)) = (&agreement.next_tier, agreement.next_amount) {
        text.push_str(&format!(
            "; from the next period {tier} at {}",
            money(amount, &agreement.currency)
        ));
    }
    if let Some(end) = &agreement.current_period_ends_at {
        text.push_str(&format!("; period ends {end}"));
    }
    if let Some(url) = &agreement.payment_url {
        text.push_str(&format!("\n  pay the open invoice at {url}"));
    }
    if let Some(url) = &agreement.quote_url {
        text.push_str(&format!("\n  quote: {url}"));
    }
    for invoice in agreement.invoices.iter().flatten() {
        text.push_str(&format!(
            "\n  invoice {} ({} to {}): {} {}{}",
            invoice.number,
            invoice.period_starts_at,
            invoice.period_ends_at,
            money(invoice.amount, &invoice.currency),
            invoice.state,
            invoice
                .pdf_url
                .as_deref()
                .map(|url| format!(", PDF {url}"))
                .unwrap_or_default()
        ));
    }
    text
}

pub async fn run(
    command: RetainerCommand,
    context: &Context,
    output: Output,
) -> anyhow::Result<()> {
    let session = context.session().await?;
    match command {
        RetainerCommand::Offer(args) => {
            let tiers = args
                .tiers
                .iter()
                .map(|spec| parse_tier(spec))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut projects = Vec::new();
            for uri in &args.projects {
                projects.push(records::resolve_ref(&session, uri, None).await?);
            }
            let offer = RetainerOffer {
                projects: (!projects.is_empty()).then_some(projects),
                repositories: (!args.repositories.is_empty()).then_some(args.repositories),
                description: args.description,
                tiers,
                terms_url: args.terms_url,
                created_at: records::now(),
            };
            let written = records::create(&session, &offer, None).await?;
            context.save(&session).await?;
            output.emit(&format!("offered: {}", written.uri), &json!(written));
        }
        RetainerCommand::Quote(args) => {
            let escrow = context.escrow().await?;
            // The version the AppView indexed is the one escrow quotes from.
            let view = context
                .appview
                .get_retainer_offer(&args.offer)
                .await?
                .with_context(|| format!("the AppView does not know the offer {}", args.offer))?;
            anyhow::ensure!(
                view["authorized"] == true,
                "the offer cannot be sold: {}",
                view["refusal"].as_str().unwrap_or("not authorized")
            );
            let offer = records::resolve_ref(
                &session,
                &args.offer,
                Some(view["cid"].as_str().unwrap_or_default()),
            )
            .await?;
            let key = args.idempotency_key.unwrap_or_else(new_idempotency_key);
            let quote = escrow
                .request_quote(
                    &session.agent,
                    &QuoteRequest {
                        offer,
                        tier: &args.tier,
                        billing: BillingDetails {
                            legal_name: args.legal_name,
                            address: args.address.replace("\\n", "\n"),
                            tax_id: args.tax_id,
                            purchase_order: args.purchase_order,
                            email: args.email,
                        },
                        collection: &args.collection,
                        listed_publicly: args.listed,
                        idempotency_key: &key,
                    },
                )
                .await
                .with_context(|| format!("quote (retry with --idempotency-key {key})"))?;
            context.save(&session).await?;
            output.emit(
                &format!(
                    "{}\nstart it with: greenlight retainer start {}",
                    describe(&quote),
                    quote.id
                ),
                &json!(quote),
            );
        }
        RetainerCommand::Start(args) => {
            let escrow = context.escrow().await?;
            let key = args.idempotency_key.unwrap_or_else(new_idempotency_key);
            let started = escrow
                .start_retainer(&session.agent, &args.agreement, &key)
                .await
                .with_context(|| format!("start (retry with --idempotency-key {key})"))?;
            // A listed client attributes the agreement in their own repository, as a backer
            // does a pledge; the receipt is escrow's agreement id.
            let mut record = None;
            if started.listed_publicly == Some(true) {
                let retainer =
                    records::retainer_record(started.offer.clone(), &started.tier, &started.id);
                record = Some(records::create(&session, &retainer, None).await?);
            }
            context.save(&session).await?;
            let mut text = describe(&started);
            if let Some(record) = &record {
                text.push_str(&format!("\n  listed publicly: {}", record.uri));
            }
            output.emit(&text, &json!({ "agreement": started, "record": record }));
        }
        RetainerCommand::ChangeTier(args) => {
            let escrow = context.escrow().await?;
            let key = args.idempotency_key.unwrap_or_else(new_idempotency_key);
            let changed = escrow
                .change_retainer_tier(&session.agent, &args.agreement, &args.tier, &key)
                .await?;
            context.save(&session).await?;
            output.emit(&describe(&changed), &json!(changed));
        }
        RetainerCommand::Cancel(args) => {
            let escrow = context.escrow().await?;
            let key = args.idempotency_key.unwrap_or_else(new_idempotency_key);
            let cancelled = escrow
                .cancel_retainer(&session.agent, &args.agreement, &key)
                .await?;
            context.save(&session).await?;
            output.emit(&describe(&cancelled), &json!(cancelled));
        }
        RetainerCommand::Show(args) => {
            let escrow = context.escrow().await?;
            let agreement = escrow
                .get_retainer_agreement(&session.agent, &args.agreement)
                .await?;
            context.save(&session).await?;
            output.emit(&describe(&agreement), &json!(agreement));
        }
        RetainerCommand::List => {
            let escrow = context.escrow().await?;
            let list = escrow.list_retainer_agreements(&session.agent).await?;
            context.save(&session).await?;
            let mut text = String::new();
            for (heading, agreements) in [
                ("you pay", &list.as_client),
                ("you are paid", &list.as_maintainer),
            ] {
                text.push_str(&format!("{heading}: {}\n", agreements.len()));
                for agreement in agreements {
                    text.push_str(&format!("{}\n", describe(agreement)));
                }
            }
            output.emit(text.trim_end(), &json!(list));
        }
        RetainerCommand::Vendor(args) => {
            let escrow = context.escrow().await?;
            let stored = escrow
                .set_vendor_details(
                    &session.agent,
                    &VendorDetails {
                        legal_name: args.legal_name,
                        address: args.address.replace("\\n", "\n"),
                        tax_id: args.tax_id,
                        email: args.email,
                    },
                )
                .await?;
            context.save(&session).await?;
            output.emit(
                &format!(
                    "your quotes and invoices from now on name {} as the vendor",
                    stored.details.legal_name
                ),
                &json!(stored),
            );
        }
        RetainerCommand::Income(args) => {
            let escrow = context.escrow().await?;
            let income = escrow
                .get_income_statement(&session.agent, args.year)
                .await?;
            context.save(&session).await?;
            let mut text = format!("income {}", income.year);
            if income.currencies.is_empty() {
                text.push_str(": nothing received");
            }
            for currency in &income.currencies {
                text.push_str(&format!(
                    "\n  {}: received {}, fees {}, net {} (retainers {})\n  statement: {}",
                    currency.currency,
                    money(currency.gross, &currency.currency),
                    money(currency.fees, &currency.currency),
                    money(currency.net, &currency.currency),
                    money(currency.retainers, &currency.currency),
                    currency.pdf_url
                ));
            }
            output.emit(&text, &json!(income));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_read_in_minor_units_with_what_they_include() {
        let tier = parse_tier("Partner:1500 USD/month:risk,access:seats=3").unwrap();
        assert_eq!(
            (
                tier.name.as_str(),
                tier.amount,
                tier.currency.as_str(),
                tier.period.as_str()
            ),
            ("Partner", 150_000, "USD", "month")
        );
        assert!(tier.included.risk_mitigation && tier.included.reciprocal_access);
        assert!(!tier.included.advisory);
        assert_eq!(tier.seat_limit, Some(3));
        let yen = parse_tier("Advisor:120000 JPY/year:advisory").unwrap();
        assert_eq!((yen.amount, yen.period.as_str()), (120_000, "year"));
        for bad in [
            "Partner",
            "Partner:1500 USD",
            "Partner:1500/month",
            "Partner:1500 USD/week",
            "Partner:1500 USD/month:gold",
            ":1500 USD/month",
        ] {
            assert!(parse_tier(bad).is_err(), "{bad} accepted");
        }
    }
}
