//! The retainer procedures: `requestQuote`, `startRetainer`, `changeRetainerTier`,
//! `cancelRetainer` (the client's), `getRetainerAgreement` and `listRetainerAgreements` (the
//! client's or the maintainer's), `getIncomeStatement` (the maintainer's) and the public feed
//! `listRetainerStates`.
//!
//! As with pledges, every check happens before anything is written, and each call that
//! changes an agreement is idempotent by the caller's key. Offers are read from the AppView
//! at the moment of the call, never from the caller.

use greenlight_funding::retainer::{Agreement, Event, Refusal};
use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::{AgreementView, RetainerState};
use greenlight_lexicon::fund::greenlight::escrow::{
    cancel_retainer, change_retainer_tier, get_income_statement, list_retainer_agreements,
    list_retainer_states, request_quote, set_vendor_details, start_retainer,
};
use sqlx::PgConnection;

use super::{from_json, replayed, to_json};
use crate::clock::datetime;
use crate::error::EscrowError;
use crate::idempotency::{self, Claim};
use crate::identifiers;
use crate::proposal_source::{OfferInfo, OfferTier};
use crate::provider::Collection;
use crate::retainer::{self, billing, documents, AgreementRow};
use crate::Escrow;

fn not_found() -> EscrowError {
    EscrowError::method("NotFound", "no such agreement")
}

async fn offer(escrow: &Escrow, uri: &str) -> Result<OfferInfo, EscrowError> {
    escrow
        .proposals
        .retainer_offer(uri)
        .await?
        .ok_or_else(|| EscrowError::method("NotFound", "no such retainer offer is indexed"))
}

fn tier<'o>(offer: &'o OfferInfo, name: &str) -> Result<&'o OfferTier, EscrowError> {
    offer
        .tiers
        .iter()
        .find(|tier| tier.terms.tier == name)
        .ok_or_else(|| EscrowError::method("NoSuchTier", format!("the offer has no tier {name:?}")))
}

/// Refuses when the tier already has as many clients in force as its seat limit (not
/// counting `except`, the agreement asking).
async fn check_seats(
    conn: &mut PgConnection,
    offer: &str,
    tier: &OfferTier,
    except: Option<&str>,
) -> Result<(), EscrowError> {
    let Some(limit) = tier.seat_limit else {
        return Ok(());
    };
    let taken = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM escrow.retainer_agreement
           WHERE offer = $1 AND (tier = $2 OR next_tier = $2)
             AND state IN ('active', 'past_due', 'cancelling')
             AND ($3::text IS NULL OR id <> $3)"#,
        offer,
        tier.terms.tier,
        except,
    )
    .fetch_one(conn)
    .await?;
    if taken >= limit {
        return Err(EscrowError::method(
            "TierFull",
            format!("the tier {:?} has {limit} clients already", tier.terms.tier),
        ));
    }
    Ok(())
}

fn refused(refusal: &Refusal) -> EscrowError {
    match refusal {
        Refusal::CurrencyChange { .. } => {
            EscrowError::method("CurrencyMismatch", refusal.to_string())
        }
        Refusal::NotBillable => EscrowError::method("UnsupportedCurrency", refusal.to_string()),
        other => EscrowError::InvalidRequest(other.to_string()),
    }
}

/// The view of an agreement with its invoices and where to pay.
pub async fn view(
    escrow: &Escrow,
    conn: &mut PgConnection,
    row: &AgreementRow,
) -> Result<AgreementView, EscrowError> {
    let invoices = billing::invoices(escrow, conn, &row.id).await?;
    let payment_url = billing::payment_url(conn, &row.id).await?;
    row.view(escrow, invoices, payment_url)
}

/// `requestQuote`: an agreement in state quoted, at the offer's price for the tier now.
pub async fn request_quote(
    escrow: &Escrow,
    caller: &str,
    input: &request_quote::Input,
) -> Result<AgreementView, EscrowError> {
    let key = input.idempotency_key.as_str();
    let (hash, replay) = replayed(escrow, caller, request_quote::NSID, key, input).await?;
    if let Some(answer) = replay {
        return Ok(answer);
    }
    let offer = offer(escrow, &input.offer.uri).await?;
    if offer.cid != input.offer.cid {
        return Err(EscrowError::method(
            "NotFound",
            "the offer changed since it was read; read it again and ask for the new version",
        ));
    }
    if !offer.authorized {
        return Err(EscrowError::method(
            "OfferNotAuthorized",
            "the offer's author may not sell retainers for what it covers",
        ));
    }
    if offer.maintainer == caller {
        return Err(EscrowError::InvalidRequest(
            "a maintainer cannot retain themselves".into(),
        ));
    }
    let tier = tier(&offer, &input.tier)?;
    let collection = Collection::parse(&input.collection).ok_or_else(|| {
        EscrowError::InvalidRequest(format!("unknown collection {:?}", input.collection))
    })?;
    if !tier.terms.currency.supported() {
        return Err(EscrowError::method(
            "UnsupportedCurrency",
            format!(
                "{} is not in the currency table",
                tier.terms.currency.as_str()
            ),
        ));
    }
    let quoted = greenlight_funding::retainer::apply(
        &Agreement::requested(tier.terms.clone()),
        &Event::Quote {
            terms: tier.terms.clone(),
            fee_basis_points: escrow.config.fee_basis_points,
        },
    )
    .map_err(|refusal| refused(&refusal))?;
    let mut conn = escrow.pool.acquire().await?;
    check_seats(&mut conn, &offer.uri, tier, None).await?;
    let account = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM escrow.payout_account WHERE did = $1 AND provider = $2) AS "exists!""#,
        offer.maintainer,
        escrow.provider.name(),
    )
    .fetch_one(&mut *conn)
    .await?;
    drop(conn);
    if !account {
        return Err(EscrowError::method(
            "PayoutAccountMissing",
            "the maintainer has not connected a payout account yet",
        ));
    }
    let now = escrow.now();
    let id = identifiers::derived("ra", &[caller, key]);
    let mut tx = escrow.pool.begin().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, caller, key, request_quote::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    let billing = to_json(&input.billing)?;
    let row = sqlx::query_as!(
        AgreementRow,
        "INSERT INTO escrow.retainer_agreement (id, offer, offer_cid, client, maintainer, tier,
             amount, currency, period, collection, billing, listed, fee_bps, state, created_at,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
         RETURNING id, offer, offer_cid, client, maintainer, tier, amount, currency, period, next_tier,
             next_amount, collection, billing, listed, fee_bps, state, failed_retries,
             first_failure_on, anchor, period_offset_months, periods, current_paid, quote_number,
             created_at, updated_at",
        id,
        offer.uri,
        offer.cid,
        caller,
        offer.maintainer,
        quoted.terms.tier,
        quoted.terms.amount,
        quoted.terms.currency.as_str(),
        quoted.terms.period.as_str(),
        collection.as_str(),
        billing,
        input.listed_publicly.unwrap_or(false),
        i32::try_from(quoted.fee_basis_points).unwrap_or(i32::MAX),
        quoted.state.as_str(),
        now,
    )
    .fetch_one(&mut *tx)
    .await?;
    let sequence = sqlx::query_scalar!(r#"SELECT nextval('escrow.quote_number') AS "n!""#)
        .fetch_one(&mut *tx)
        .await?;
    let number = documents::quote_number(escrow.billing_clock().date(now).year(), sequence);
    let vendor = documents::vendor_details(&mut tx, &row.maintainer).await?;
    let facts = documents::quote_facts(escrow, &row, vendor.as_ref(), &number, now)?;
    let row = sqlx::query_as!(
        AgreementRow,
        "UPDATE escrow.retainer_agreement SET quote_number = $2, quote_document = $3 WHERE id = $1
         RETURNING id, offer, offer_cid, client, maintainer, tier, amount, currency, period, next_tier,
             next_amount, collection, billing, listed, fee_bps, state, failed_retries,
             first_failure_on, anchor, period_offset_months, periods, current_paid, quote_number,
             created_at, updated_at",
        row.id,
        number,
        facts,
    )
    .fetch_one(&mut *tx)
    .await?;
    let answer = view(escrow, &mut tx, &row).await?;
    idempotency::record(&mut tx, caller, key, &to_json(&answer)?).await?;
    tx.commit().await?;
    tracing::info!(agreement = %row.id, offer = %row.offer, tier = %row.tier, "retainer quoted");
    Ok(answer)
}

/// Locks the caller's own agreement, or refuses.
async fn lock_own(
    conn: &mut PgConnection,
    caller: &str,
    id: &str,
) -> Result<AgreementRow, EscrowError> {
    let row = retainer::lock(conn, id).await?.ok_or_else(not_found)?;
    if row.client != caller {
        return Err(EscrowError::method(
            "NotTheClient",
            "only the client who asked for the quote may do this",
        ));
    }
    Ok(row)
}

/// A client's call about their own agreement, begun: the agreement locked in `tx`, escrow's
/// time, and the request's hash for its idempotency claim.
struct OwnCall<'e> {
    hash: Vec<u8>,
    tx: sqlx::Transaction<'e, sqlx::Postgres>,
    row: AgreementRow,
    now: chrono::DateTime<chrono::Utc>,
    today: greenlight_funding::billing_period::Date,
}

/// Begins the client's call `nsid` about `agreement`: the stored answer when `key` was used
/// with this very request before (`Err`), else the call with the agreement locked (`Ok`).
async fn begin_own_call<'e>(
    escrow: &'e Escrow,
    caller: &str,
    nsid: &str,
    key: &str,
    input: &impl serde::Serialize,
    agreement: &str,
) -> Result<Result<OwnCall<'e>, AgreementView>, EscrowError> {
    let (hash, replay) = replayed(escrow, caller, nsid, key, input).await?;
    if let Some(answer) = replay {
        return Ok(Err(answer));
    }
    let now = escrow.now();
    let today = escrow.billing_clock().date(now);
    let mut tx = escrow.pool.begin().await?;
    let row = lock_own(&mut tx, caller, agreement).await?;
    Ok(Ok(OwnCall {
        hash,
        tx,
        row,
        now,
        today,
    }))
}

/// `startRetainer`: the first period begins today and its invoice is issued and sent.
pub async fn start_retainer(
    escrow: &Escrow,
    caller: &str,
    input: &start_retainer::Input,
) -> Result<AgreementView, EscrowError> {
    let key = input.idempotency_key.as_str();
    let OwnCall {
        hash,
        mut tx,
        row,
        now,
        today,
    } = match begin_own_call(
        escrow,
        caller,
        start_retainer::NSID,
        key,
        input,
        &input.agreement,
    )
    .await?
    {
        Ok(call) => call,
        Err(answer) => return Ok(answer),
    };
    if row.state != "quoted" {
        return Err(EscrowError::method(
            "NotQuoted",
            format!("the agreement is {}, not quoted", row.state),
        ));
    }
    // The offer as it is now: its author may have lost the authority to sell it, or the
    // tier may have filled, since the quote.
    let offer = offer(escrow, &row.offer).await?;
    if !offer.authorized {
        return Err(EscrowError::method(
            "OfferNotAuthorized",
            "the offer's author may no longer sell retainers for what it covers",
        ));
    }
    if let Ok(tier) = tier(&offer, &row.tier) {
        check_seats(&mut tx, &row.offer, tier, Some(&row.id)).await?;
    }
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, caller, key, start_retainer::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    let row = retainer::transition(&mut tx, &row, &Event::Start { on: today }, today, now)
        .await?
        .map_err(|refusal| refused(&refusal))?;
    let number = billing::issue_invoice(escrow, &mut tx, &row, now).await?;
    let answer = view(escrow, &mut tx, &row).await?;
    idempotency::record(&mut tx, caller, key, &to_json(&answer)?).await?;
    tx.commit().await?;
    // Collecting after the commit: if it fails, the worker collects the open invoice.
    if let Err(error) = billing::collect(escrow, &number).await {
        tracing::warn!(%error, invoice = %number, "first collection failed; the worker retries");
    }
    escrow.wake.notify_one();
    let mut conn = escrow.pool.acquire().await?;
    let fresh = retainer::lock(&mut conn, &row.id)
        .await?
        .ok_or_else(not_found)?;
    view(escrow, &mut conn, &fresh).await
}

/// `changeRetainerTier`: from the next period, at the offer's price now.
pub async fn change_retainer_tier(
    escrow: &Escrow,
    caller: &str,
    input: &change_retainer_tier::Input,
) -> Result<AgreementView, EscrowError> {
    let key = input.idempotency_key.as_str();
    let OwnCall {
        hash,
        mut tx,
        row,
        now,
        today,
    } = match begin_own_call(
        escrow,
        caller,
        change_retainer_tier::NSID,
        key,
        input,
        &input.agreement,
    )
    .await?
    {
        Ok(call) => call,
        Err(answer) => return Ok(answer),
    };
    let offer = offer(escrow, &row.offer).await?;
    let tier = tier(&offer, &input.tier)?;
    if row.state != "active" {
        return Err(EscrowError::method(
            "NotActive",
            format!(
                "the agreement is {}: settle a past-due payment or undo a cancellation first",
                row.state
            ),
        ));
    }
    if tier.terms.tier != row.tier {
        check_seats(&mut tx, &row.offer, tier, Some(&row.id)).await?;
    }
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, caller, key, change_retainer_tier::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    let event = Event::ChangeTier {
        terms: tier.terms.clone(),
    };
    let row = retainer::transition(&mut tx, &row, &event, today, now)
        .await?
        .map_err(|refusal| refused(&refusal))?;
    let answer = view(escrow, &mut tx, &row).await?;
    idempotency::record(&mut tx, caller, key, &to_json(&answer)?).await?;
    tx.commit().await?;
    Ok(answer)
}

/// `cancelRetainer`: at the end of the paid period, or at once when nothing is paid.
pub async fn cancel_retainer(
    escrow: &Escrow,
    caller: &str,
    input: &cancel_retainer::Input,
) -> Result<AgreementView, EscrowError> {
    let key = input.idempotency_key.as_str();
    let OwnCall {
        hash,
        mut tx,
        row,
        now,
        today,
    } = match begin_own_call(
        escrow,
        caller,
        cancel_retainer::NSID,
        key,
        input,
        &input.agreement,
    )
    .await?
    {
        Ok(call) => call,
        Err(answer) => return Ok(answer),
    };
    if matches!(row.state.as_str(), "cancelling" | "ended" | "lapsed") {
        return Err(EscrowError::method(
            "AlreadyEnded",
            format!("the agreement is already {}", row.state),
        ));
    }
    if let Claim::Replay(answer) =
        idempotency::claim(&mut tx, caller, key, cancel_retainer::NSID, &hash, now).await?
    {
        return from_json(answer);
    }
    let row = retainer::transition(&mut tx, &row, &Event::Cancel, today, now)
        .await?
        .map_err(|refusal| refused(&refusal))?;
    // Ended at once: the unpaid invoice is void, and its payment is stopped after commit.
    let mut stop = Vec::new();
    if row.state == "ended" {
        stop = billing::open_payments(&mut tx, &row.id).await?;
        let open = sqlx::query_scalar!(
            "SELECT number FROM escrow.retainer_invoice WHERE agreement = $1 AND state = 'open'",
            row.id,
        )
        .fetch_all(&mut *tx)
        .await?;
        for number in open {
            billing::void_invoice(&mut tx, &number).await?;
        }
    }
    let answer = view(escrow, &mut tx, &row).await?;
    idempotency::record(&mut tx, caller, key, &to_json(&answer)?).await?;
    tx.commit().await?;
    for payment in stop {
        // A payment that still arrives is returned by the webhook: the invoice is void.
        if let Err(error) = escrow.provider.cancel_checkout(&payment).await {
            tracing::warn!(%error, payment, "could not stop a cancelled retainer's payment");
        }
    }
    Ok(answer)
}

/// `getRetainerAgreement`: for its client or its maintainer only.
pub async fn get_retainer_agreement(
    escrow: &Escrow,
    caller: &str,
    id: &str,
) -> Result<AgreementView, EscrowError> {
    let mut conn = escrow.pool.acquire().await?;
    let row = sqlx::query_as!(
        AgreementRow,
        "SELECT id, offer, offer_cid, client, maintainer, tier, amount, currency, period, next_tier,
             next_amount, collection, billing, listed, fee_bps, state, failed_retries,
             first_failure_on, anchor, period_offset_months, periods, current_paid, quote_number,
             created_at, updated_at
         FROM escrow.retainer_agreement WHERE id = $1",
        id,
    )
    .fetch_optional(&mut *conn)
    .await?
    .filter(|row| row.client == caller || row.maintainer == caller)
    .ok_or_else(not_found)?;
    view(escrow, &mut conn, &row).await
}

/// `listRetainerAgreements`: the caller's agreements on both sides.
pub async fn list_retainer_agreements(
    escrow: &Escrow,
    caller: &str,
) -> Result<list_retainer_agreements::Output, EscrowError> {
    let mut conn = escrow.pool.acquire().await?;
    let rows = sqlx::query_as!(
        AgreementRow,
        "SELECT id, offer, offer_cid, client, maintainer, tier, amount, currency, period, next_tier,
             next_amount, collection, billing, listed, fee_bps, state, failed_retries,
             first_failure_on, anchor, period_offset_months, periods, current_paid, quote_number,
             created_at, updated_at
         FROM escrow.retainer_agreement WHERE client = $1 OR maintainer = $1
         ORDER BY created_at DESC, id LIMIT 1000",
        caller,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut output = list_retainer_agreements::Output {
        as_client: Vec::new(),
        as_maintainer: Vec::new(),
    };
    for row in rows {
        let answer = view(escrow, &mut conn, &row).await?;
        if row.client == caller {
            output.as_client.push(answer);
        } else {
            output.as_maintainer.push(answer);
        }
    }
    Ok(output)
}

/// `getIncomeStatement`: the caller's income in `year`, per currency, from the ledger.
pub async fn get_income_statement(
    escrow: &Escrow,
    caller: &str,
    year: i64,
) -> Result<get_income_statement::Output, EscrowError> {
    let year = i32::try_from(year)
        .ok()
        .filter(|year| (2000..=9999).contains(year))
        .ok_or_else(|| EscrowError::InvalidRequest("year out of range".into()))?;
    let lines = documents::income_lines(escrow, caller, year, None).await?;
    let mut by_currency: std::collections::BTreeMap<String, get_income_statement::CurrencyIncome> =
        std::collections::BTreeMap::new();
    for line in lines {
        let entry = by_currency.entry(line.currency.clone()).or_insert_with(|| {
            get_income_statement::CurrencyIncome {
                currency: line.currency.clone(),
                gross: 0,
                fees: 0,
                net: 0,
                retainers: 0,
                html_url: documents::income_url(escrow, caller, year, &line.currency, "html"),
                pdf_url: documents::income_url(escrow, caller, year, &line.currency, "pdf"),
            }
        });
        entry.gross += line.gross;
        entry.fees += line.fee;
        entry.net += line.gross - line.fee;
        if line.kind == "retainer_payment" {
            entry.retainers += line.gross;
        }
    }
    Ok(get_income_statement::Output {
        year: i64::from(year),
        currencies: by_currency.into_values().collect(),
    })
}

/// `listRetainerStates`: the public feed. A client is named only when they asked to be.
pub async fn list_retainer_states(
    escrow: &Escrow,
    params: &list_retainer_states::Params,
) -> Result<list_retainer_states::Output, EscrowError> {
    let (after, limit) = super::queries::feed_page(params.cursor.as_deref(), params.limit)?;
    let rows = sqlx::query!(
        r#"SELECT a.seq AS "seq!", a.id, a.offer, a.maintainer, a.client, a.listed, a.tier,
                  a.amount, a.currency, a.period, a.state, a.updated_at, a.anchor,
                  a.period_offset_months AS "offset!",
                  (SELECT count(*) FROM escrow.retainer_invoice i
                   WHERE i.agreement = a.id AND i.state = 'paid') AS "paid!"
           FROM escrow.retainer_agreement a
           WHERE a.seq > $1 ORDER BY a.seq LIMIT $2"#,
        after,
        limit,
    )
    .fetch_all(&escrow.pool)
    .await?;
    let calendar = escrow.billing_clock();
    let cursor = rows.last().map(|row| row.seq.to_string());
    let mut states = Vec::with_capacity(rows.len());
    for row in rows {
        let in_force = matches!(row.state.as_str(), "active" | "past_due" | "cancelling");
        let period_end = match (in_force, row.anchor) {
            (true, Some(anchor)) => {
                let terms = retainer::terms(&row.tier, row.amount, &row.currency, &row.period)?;
                let months = u32::try_from(row.offset).unwrap_or(0) + terms.period.months();
                greenlight_funding::billing_period::boundary(retainer::to_date(anchor)?, months)
                    .map(|end| datetime(calendar.start_of(end)))
            }
            _ => None,
        };
        states.push(RetainerState {
            seq: row.seq,
            agreement: row.id,
            offer: row.offer,
            maintainer: row.maintainer,
            client: row.listed.then_some(row.client),
            tier: row.tier,
            amount: row.amount,
            currency: row.currency,
            period: row.period,
            state: row.state,
            paid_periods: row.paid,
            current_period_ends_at: period_end,
            updated_at: datetime(row.updated_at),
        });
    }
    Ok(list_retainer_states::Output { cursor, states })
}

/// `setVendorDetails`: how the caller appears as the vendor on the documents escrow issues
/// for their retainers from now on.
pub async fn set_vendor_details(
    escrow: &Escrow,
    caller: &str,
    input: &set_vendor_details::Input,
) -> Result<set_vendor_details::Output, EscrowError> {
    let now = escrow.now();
    let details = to_json(&input.details)?;
    sqlx::query!(
        "INSERT INTO escrow.vendor (did, details, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (did) DO UPDATE SET details = EXCLUDED.details, updated_at = EXCLUDED.updated_at",
        caller,
        details,
        now,
    )
    .execute(&escrow.pool)
    .await?;
    Ok(set_vendor_details::Output {
        details: input.details.clone(),
        updated_at: datetime(now),
    })
}
