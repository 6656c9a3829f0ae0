//! Money, from the escrow's public ledger feed: totals per proposal and contributions per
//! person (which set estimate caps).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::proposals::refresh_proposals;

/// One entry of `fund.greenlight.escrow.listLedgerEntries` (`escrow.defs#ledgerEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    /// Position in the feed; a later seq of the same id replaces the earlier state.
    pub seq: i64,
    /// Ledger entry id, stable across state changes.
    pub id: String,
    /// When escrow created the entry.
    pub created_at: DateTime<Utc>,
    /// `pledge_hold`, `pledge_capture`, `refund`, `payout`, `fee`, `donation`, ...
    pub kind: String,
    /// `pending`, `posted` or `voided`.
    pub state: String,
    /// ISO 4217 code of `amount`.
    pub currency: String,
    /// Minor units moved.
    pub amount: i64,
    /// Account debited.
    pub debit_account: String,
    /// Account credited.
    pub credit_account: String,
    /// The proposal the movement belongs to.
    #[serde(default)]
    pub proposal: Option<String>,
    /// The pledge the movement belongs to.
    #[serde(default)]
    pub pledge: Option<String>,
    /// The donation the movement belongs to.
    #[serde(default)]
    pub donation: Option<String>,
    /// The backer or donor (a retainer's client only when they asked to be listed).
    #[serde(default)]
    pub backer: Option<String>,
    /// The retainer agreement the movement belongs to (`retainer_payment`, and the `fee`
    /// and `payout` of the same period).
    #[serde(default)]
    pub agreement: Option<String>,
}

/// A pledge's state as the ledger feed implies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PledgeState {
    /// Escrow's pledge id (a pledge record's `receipt`).
    pub id: String,
    /// The proposal it is for.
    pub proposal: Option<String>,
    /// `pending`, `held`, `cancelled`, `refunded` or `paid`.
    pub state: String,
}

/// Stores feed entries (the latest state per id wins) and recomputes the money of every
/// proposal and person they concern, then the proposals whose estimate caps that moves,
/// inside the caller's transaction.
pub async fn apply_ledger_entries(
    conn: &mut PgConnection,
    entries: &[LedgerEntry],
) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    crate::lock(conn).await?;
    // Within one page only the highest seq per id matters.
    let mut latest: BTreeMap<&str, &LedgerEntry> = BTreeMap::new();
    for entry in entries {
        match latest.get(entry.id.as_str()) {
            Some(seen) if seen.seq >= entry.seq => {}
            _ => {
                latest.insert(entry.id.as_str(), entry);
            }
        }
    }
    let rows: Vec<&LedgerEntry> = latest.into_values().collect();
    let ids: Vec<String> = rows.iter().map(|e| e.id.clone()).collect();
    let pledges: Vec<String> = rows.iter().filter_map(|e| e.pledge.clone()).collect();
    // What the entries touch before and after they are stored: an entry whose proposal or
    // backer changed, or a refund of a pledge held elsewhere, changes both sides.
    let mut touched = touched_by(conn, &ids, &pledges).await?;
    let column = |f: fn(&LedgerEntry) -> String| rows.iter().map(|e| f(e)).collect::<Vec<_>>();
    let optional =
        |f: fn(&LedgerEntry) -> Option<String>| rows.iter().map(|e| f(e)).collect::<Vec<_>>();
    sqlx::query!(
        "INSERT INTO appview.escrow_entry AS e (id, seq, kind, state, currency, amount, proposal,
             pledge, donation, backer, debit_account, credit_account, created_at, agreement)
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[],
             $6::int8[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
             $12::text[], $13::timestamptz[], $14::text[])
         ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, kind = EXCLUDED.kind,
             state = EXCLUDED.state, currency = EXCLUDED.currency, amount = EXCLUDED.amount,
             proposal = EXCLUDED.proposal, pledge = EXCLUDED.pledge,
             donation = EXCLUDED.donation, backer = EXCLUDED.backer,
             debit_account = EXCLUDED.debit_account, credit_account = EXCLUDED.credit_account,
             created_at = EXCLUDED.created_at, agreement = EXCLUDED.agreement
         WHERE EXCLUDED.seq > e.seq",
        &column(|e| e.id.clone()),
        &rows.iter().map(|e| e.seq).collect::<Vec<_>>(),
        &column(|e| e.kind.clone()),
        &column(|e| e.state.clone()),
        &column(|e| e.currency.clone()),
        &rows.iter().map(|e| e.amount).collect::<Vec<_>>(),
        &optional(|e| e.proposal.clone()) as &[Option<String>],
        &optional(|e| e.pledge.clone()) as &[Option<String>],
        &optional(|e| e.donation.clone()) as &[Option<String>],
        &optional(|e| e.backer.clone()) as &[Option<String>],
        &column(|e| e.debit_account.clone()),
        &column(|e| e.credit_account.clone()),
        &rows.iter().map(|e| e.created_at).collect::<Vec<_>>(),
        &optional(|e| e.agreement.clone()) as &[Option<String>],
    )
    .execute(&mut *conn)
    .await?;

    touched.extend(touched_by(conn, &ids, &pledges).await?);
    let mut proposals: BTreeSet<String> = BTreeSet::new();
    let mut backers: BTreeSet<String> = BTreeSet::new();
    for (proposal, backer) in touched {
        proposals.extend(proposal);
        backers.extend(backer);
    }
    let proposals: Vec<String> = proposals.into_iter().collect();
    // A payout or refund without a backer still changes every backer of the proposal.
    let more: Vec<String> = sqlx::query_scalar!(
        r#"SELECT DISTINCT backer AS "backer!" FROM appview.escrow_entry
         WHERE proposal = ANY($1) AND backer IS NOT NULL"#,
        &proposals,
    )
    .fetch_all(&mut *conn)
    .await?;
    backers.extend(more);
    let backers: Vec<String> = backers.into_iter().collect();

    recompute_money(conn, &proposals).await?;
    let projects: Vec<String> = sqlx::query_scalar!(
        r#"SELECT DISTINCT project_uri AS "project_uri!" FROM appview.proposal_state
         WHERE uri = ANY($1) AND project_uri IS NOT NULL"#,
        &proposals,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut changed: Vec<&str> = proposals.iter().map(String::as_str).collect();
    changed.extend(projects.iter().map(String::as_str));
    crate::notify(conn, &changed).await?;
    let moved = recompute_contributions(conn, &backers).await?;
    if !moved.is_empty() {
        let touched: Vec<String> = sqlx::query_scalar!(
            r#"SELECT DISTINCT proposal_uri AS "proposal_uri!" FROM appview.estimate_state
               WHERE did = ANY($1)"#,
            &moved,
        )
        .fetch_all(&mut *conn)
        .await?;
        refresh_proposals(conn, &touched).await?;
    }
    Ok(())
}

/// The (proposal, backer) pairs of stored entries with these ids or about these pledges.
async fn touched_by(
    conn: &mut PgConnection,
    ids: &[String],
    pledges: &[String],
) -> Result<Vec<(Option<String>, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT proposal AS "proposal?", backer AS "backer?" FROM appview.escrow_entry
         WHERE id = ANY($1) OR pledge = ANY($2)"#,
        ids,
        pledges,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.proposal, r.backer)).collect())
}

/// The states of the pledges with these escrow ids (pledge records' receipts).
pub async fn pledge_states(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<PledgeState>, sqlx::Error> {
    sqlx::query_as!(
        PledgeState,
        r#"SELECT id AS "id!", proposal AS "proposal?", state AS "state!"
         FROM appview.escrow_pledge WHERE id = ANY($1)"#,
        ids,
    )
    .fetch_all(conn)
    .await
}

/// Recomputes `appview.proposal_money` for these proposals from the stored entries.
async fn recompute_money(conn: &mut PgConnection, proposals: &[String]) -> Result<(), sqlx::Error> {
    if proposals.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "DELETE FROM appview.proposal_money WHERE proposal = ANY($1)",
        proposals,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO appview.proposal_money (proposal, currency, pledged_held, paid_out, refunded,
             donations, pledge_count, backer_count)
         SELECT w.proposal,
             coalesce((SELECT min(e.currency) FROM appview.escrow_entry e
                       WHERE e.proposal = w.proposal), 'USD'),
             coalesce(sum(p.amount) FILTER (WHERE p.state = 'held'), 0),
             coalesce(sum(p.amount) FILTER (WHERE p.state = 'paid'), 0),
             coalesce(sum(p.amount) FILTER (WHERE p.state = 'refunded'), 0),
             coalesce((SELECT sum(d.amount) FROM appview.escrow_entry d
                       WHERE d.proposal = w.proposal AND d.kind = 'donation'
                         AND d.state = 'posted'), 0),
             count(p.id) FILTER (WHERE p.state IN ('held', 'paid')),
             count(DISTINCT p.backer) FILTER (WHERE p.state IN ('held', 'paid'))
         FROM UNNEST($1::text[]) AS w(proposal)
         LEFT JOIN appview.escrow_pledge p ON p.proposal = w.proposal
         WHERE EXISTS (SELECT 1 FROM appview.escrow_entry x WHERE x.proposal = w.proposal)
         GROUP BY w.proposal",
        proposals,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Recomputes `appview.contribution` for these people; returns those whose largest
/// successful contribution changed in some currency (their estimate caps moved).
async fn recompute_contributions(
    conn: &mut PgConnection,
    backers: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    if backers.is_empty() {
        return Ok(Vec::new());
    }
    let before = sqlx::query!(
        "DELETE FROM appview.contribution WHERE did = ANY($1) RETURNING did, currency, largest",
        backers,
    )
    .fetch_all(&mut *conn)
    .await?;
    let after = sqlx::query!(
        "INSERT INTO appview.contribution (did, currency, largest, total_paid, donations)
         SELECT did, currency, max(amount),
                coalesce(sum(amount) FILTER (WHERE source = 'pledge'), 0),
                coalesce(sum(amount) FILTER (WHERE source = 'donation'), 0)
         FROM (
             SELECT backer AS did, currency, amount, 'pledge' AS source
             FROM appview.escrow_pledge WHERE backer = ANY($1) AND state = 'paid'
             UNION ALL
             SELECT backer, currency, amount, 'donation'
             FROM appview.escrow_entry
             WHERE backer = ANY($1) AND kind = 'donation' AND state = 'posted'
         ) AS c
         GROUP BY did, currency
         RETURNING did, currency, largest",
        backers,
    )
    .fetch_all(&mut *conn)
    .await?;
    let before: BTreeSet<(String, String, i64)> = before
        .into_iter()
        .map(|r| (r.did, r.currency, r.largest))
        .collect();
    let after: BTreeSet<(String, String, i64)> = after
        .into_iter()
        .map(|r| (r.did, r.currency, r.largest))
        .collect();
    let moved: BTreeSet<String> = before
        .symmetric_difference(&after)
        .map(|(did, _, _)| did.clone())
        .collect();
    Ok(moved.into_iter().collect())
}

/// Recomputes all money tables from the stored entries.
pub(crate) async fn rebuild_money(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("TRUNCATE appview.proposal_money, appview.contribution")
        .execute(&mut *conn)
        .await?;
    let proposals: Vec<String> = sqlx::query_scalar!(
        r#"SELECT DISTINCT proposal AS "proposal!" FROM appview.escrow_entry
         WHERE proposal IS NOT NULL"#
    )
    .fetch_all(&mut *conn)
    .await?;
    recompute_money(conn, &proposals).await?;
    let backers: Vec<String> = sqlx::query_scalar!(
        r#"SELECT DISTINCT backer AS "backer!" FROM appview.escrow_entry
         WHERE backer IS NOT NULL"#
    )
    .fetch_all(&mut *conn)
    .await?;
    recompute_contributions(conn, &backers).await?;
    Ok(())
}
