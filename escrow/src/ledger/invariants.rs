//! The invariants of the books, as SQL checks: run by `greenlight-escrow reconcile` and after
//! every escrow test. Each check returns the rows that break it; an empty list is a clean bill.

use sqlx::PgPool;

use super::Kind;
use crate::provider::{MovementKind, PaymentProvider};

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub check: &'static str,
    /// What breaks it.
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.check, self.detail)
    }
}

/// Failure to run the checks (not a violation: the checks could not be made).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The provider's records could not be read.
    #[error(transparent)]
    Provider(#[from] crate::provider::ProviderError),
}

/// The SQL checks, each checked at compile time: (name, SQL returning one text column per
/// violation). `sql_checks!` makes `SQL_CHECKS` (the names, in order) and `run_sql_check`.
macro_rules! sql_checks {
    ($(($name:literal, $sql:tt $(,)?),)+) => {
        const SQL_CHECKS: &[&str] = &[$($name),+];

        /// Runs the check named `name`: its violations (none for an unknown name).
        async fn run_sql_check(
            pool: &PgPool,
            name: &str,
        ) -> Result<Vec<Option<String>>, sqlx::Error> {
            match name {
                $($name => sqlx::query_scalar!($sql).fetch_all(pool).await,)+
                _ => Ok(Vec::new()),
            }
        }
    };
}

sql_checks! {
    (
        "currency_sums_to_zero",
        "SELECT ledger || ' posted ' || sum(debits_posted - credits_posted) || ', pending '
                || sum(debits_pending - credits_pending)
         FROM escrow.account_balance GROUP BY ledger
         HAVING sum(debits_posted - credits_posted) <> 0 OR sum(debits_pending - credits_pending) <> 0",
    ),
    (
        "no_overdrawn_account",
        "SELECT ledger || ' ' || name || ' debits ' || (debits_posted + debits_pending)
                || ' > credits ' || credits_posted
         FROM escrow.account_balance
         WHERE debits_must_not_exceed_credits AND debits_posted + debits_pending > credits_posted
         UNION ALL
         SELECT ledger || ' ' || name || ' credits ' || (credits_posted + credits_pending)
                || ' > debits ' || debits_posted
         FROM escrow.account_balance
         WHERE credits_must_not_exceed_debits AND credits_posted + credits_pending > debits_posted",
    ),
    (
        "account_limits_follow_names",
        "SELECT ledger || ' ' || name FROM escrow.account
         WHERE debits_must_not_exceed_credits <> escrow.debit_limited(name)
            OR credits_must_not_exceed_debits",
    ),
    (
        "transfer_states_well_formed",
        "SELECT t.id || ' (' || t.kind || ') states ' || coalesce(string_agg(s.state, ',' ORDER BY s.id), 'none')
         FROM escrow.transfer t LEFT JOIN escrow.transfer_state s ON s.transfer_id = t.id
         GROUP BY t.id, t.kind, t.two_phase
         HAVING (t.two_phase AND NOT (array_agg(s.state ORDER BY s.id) = ARRAY['pending']
                                    OR array_agg(s.state ORDER BY s.id) = ARRAY['pending', 'posted']
                                    OR array_agg(s.state ORDER BY s.id) = ARRAY['pending', 'voided']))
             OR (NOT t.two_phase AND array_agg(s.state ORDER BY s.id) <> ARRAY['posted'])",
    ),
    (
        "feed_is_complete_and_ordered",
        "SELECT 'state row ' || s.id || ' published twice or out of order'
         FROM escrow.ledger_feed f JOIN escrow.transfer_state s ON s.id = f.state_id
         GROUP BY s.id HAVING count(*) > 1
         UNION ALL
         SELECT 'feed seq gap before ' || seq FROM (
             SELECT seq, lag(seq) OVER (ORDER BY seq) AS previous FROM escrow.ledger_feed) g
         WHERE previous IS NOT NULL AND seq <> previous + 1",
    ),
    (
        "held_equals_held_pledges",
        "WITH held AS (
             SELECT substr(name, 6) AS proposal, ledger, credits_posted - debits_posted AS balance,
                    debits_pending
             FROM escrow.account_balance WHERE name LIKE 'held:%'),
         pledged AS (
             SELECT proposal, currency, sum(amount) FILTER (WHERE state = 'held') AS held
             FROM escrow.pledge GROUP BY proposal, currency)
         SELECT coalesce(h.proposal, p.proposal) || ': ledger holds ' || coalesce(h.balance, 0)
                || ', held pledges sum to ' || coalesce(p.held, 0)
         FROM held h FULL JOIN pledged p ON p.proposal = h.proposal AND p.currency = h.ledger
         WHERE coalesce(h.balance, 0) <> coalesce(p.held, 0) OR coalesce(h.debits_pending, 0) <> 0",
    ),
    (
        "pledge_state_matches_its_hold",
        "SELECT p.id || ' is ' || p.state || ' but its hold is ' || coalesce(t.state, 'missing')
         FROM escrow.pledge p
         LEFT JOIN escrow.transfer_current t ON t.id = p.id || ':hold'
         WHERE (p.state = 'pending' AND t.state IS DISTINCT FROM 'pending')
            OR (p.state IN ('held', 'paid_out', 'refunded') AND t.state IS DISTINCT FROM 'posted'
                AND NOT EXISTS (SELECT 1 FROM escrow.transfer_current l
                                WHERE l.id = p.id || ':late-hold' AND l.state = 'posted'))
            OR (p.state IN ('failed') AND t.state IS DISTINCT FROM 'voided')",
    ),
    (
        // Nothing is confiscated: once a proposal is settled, none of its pledges is left
        // held or awaiting payment, and only a payout settlement pays pledges out.
        "pledge_outcome_matches_settlement",
        "SELECT p.id || ' is ' || p.state || ' but its proposal settled '
                || coalesce(r.settlement, 'not at all')
         FROM escrow.pledge p JOIN escrow.proposal r ON r.uri = p.proposal
         WHERE (p.state = 'paid_out' AND r.settlement IS DISTINCT FROM 'payout')
            OR (p.state IN ('held', 'pending') AND r.settlement IS NOT NULL)",
    ),
    (
        // The fee and the maintainer's share add up to exactly what the paid-out pledges held.
        "payout_splits_what_was_held",
        "WITH paid AS (
             SELECT proposal, sum(amount) AS total FROM escrow.pledge
             WHERE state = 'paid_out' GROUP BY proposal),
         split AS (
             -- By the account debited, not the transfer's optional proposal reference.
             SELECT substr(debit_account, 6) AS proposal, sum(amount) AS total
             FROM escrow.transfer
             WHERE kind IN ('fee', 'pledge_capture') AND debit_account LIKE 'held:%'
             GROUP BY debit_account)
         SELECT coalesce(p.proposal, s.proposal) || ': paid-out pledges ' || coalesce(p.total, 0)
                || ', fee and capture ' || coalesce(s.total, 0)
         FROM paid p FULL JOIN split s ON s.proposal = p.proposal
         WHERE coalesce(p.total, 0) <> coalesce(s.total, 0)",
    ),
    (
        "refunds_owed_match_refund_jobs",
        "WITH owed AS (
             SELECT ledger, substr(name, 9) AS backer, credits_posted - debits_posted AS balance
             FROM escrow.account_balance WHERE name LIKE 'refunds:%'),
         queued AS (
             SELECT currency, backer, sum(amount) AS amount FROM escrow.job
             WHERE kind = 'refund' AND state NOT IN ('done', 'superseded') GROUP BY currency, backer)
         SELECT coalesce(o.backer, q.backer) || ' ' || coalesce(o.ledger, q.currency) || ': owed '
                || coalesce(o.balance, 0) || ', unfinished refund jobs ' || coalesce(q.amount, 0)
         FROM owed o FULL JOIN queued q ON q.backer = o.backer AND q.currency = o.ledger
         WHERE coalesce(o.balance, 0) <> coalesce(q.amount, 0)",
    ),
    (
        "payable_matches_payout_jobs",
        "WITH owed AS (
             SELECT ledger, substr(name, 9) AS maintainer, credits_posted - debits_posted AS balance
             FROM escrow.account_balance WHERE name LIKE 'payable:%'),
         queued AS (
             SELECT currency, maintainer, sum(amount) AS amount FROM escrow.job
             WHERE kind = 'payout' AND state NOT IN ('done', 'superseded') GROUP BY currency, maintainer)
         SELECT coalesce(o.maintainer, q.maintainer) || ' ' || coalesce(o.ledger, q.currency)
                || ': payable ' || coalesce(o.balance, 0) || ', unfinished payout jobs '
                || coalesce(q.amount, 0)
         FROM owed o FULL JOIN queued q ON q.maintainer = o.maintainer AND q.currency = o.ledger
         WHERE coalesce(o.balance, 0) <> coalesce(q.amount, 0)",
    ),
    (
        "jobs_match_their_transfers",
        "SELECT j.id || ' is ' || j.state || ' but its transfer is ' || coalesce(t.state, 'missing')
         FROM escrow.job j LEFT JOIN escrow.transfer_current t ON t.id = j.transfer_id
         WHERE (j.state = 'done' AND t.state IS DISTINCT FROM 'posted')
            OR (j.state = 'reserved' AND t.state IS DISTINCT FROM 'pending')
            OR (j.state IN ('failed', 'superseded') AND t.state IS DISTINCT FROM 'voided')
            OR (j.state IN ('ready', 'awaiting_account') AND t.state IS NOT NULL)",
    ),
    (
        // Exactly one charge per period: a paid invoice has one posted payment of its amount,
        // its fee and a payout job of its payout, and nothing else was booked for it.
        "paid_invoice_booked_once",
        "SELECT i.number || ' is ' || i.state || ': payment ' || coalesce(p.amount::text, 'none')
                || ' of ' || i.amount || ', fee ' || coalesce(f.amount::text, 'none') || ' of '
                || i.fee || ', payout job ' || coalesce(j.amount::text, 'none') || ' of ' || i.payout
         FROM escrow.retainer_invoice i
         LEFT JOIN escrow.transfer_current p ON p.id = i.number || ':payment' AND p.state = 'posted'
         LEFT JOIN escrow.transfer_current f ON f.id = i.number || ':fee' AND f.state = 'posted'
         LEFT JOIN escrow.job j ON j.id = 'payout:' || i.number
         WHERE (i.state = 'paid' AND (p.amount IS DISTINCT FROM i.amount
                   OR (i.fee > 0 AND f.amount IS DISTINCT FROM i.fee)
                   OR (i.payout > 0 AND j.amount IS DISTINCT FROM i.payout)))
            OR (i.state <> 'paid' AND (p.id IS NOT NULL OR f.id IS NOT NULL OR j.id IS NOT NULL))",
    ),
    (
        // A period is paid in the agreement exactly when its invoice is, and an agreement
        // that ended or lapsed owes nothing.
        "agreement_matches_its_invoices",
        "SELECT a.id || ' is ' || a.state || ' (period ' || a.periods || ' paid ' || a.current_paid
                || ') but its invoice is ' || coalesce(i.state, 'missing')
         FROM escrow.retainer_agreement a
         LEFT JOIN escrow.retainer_invoice i ON i.agreement = a.id AND i.period_index = a.periods
         WHERE (a.periods > 0 AND a.state IN ('active', 'past_due', 'cancelling')
                AND (i.state IS NULL OR (i.state = 'paid') <> a.current_paid OR i.state = 'void'))
            OR (a.state IN ('ended', 'lapsed') AND i.state = 'open')
         UNION ALL
         SELECT a.id || ' has more than one open attempt'
         FROM escrow.retainer_agreement a
         JOIN escrow.retainer_invoice i ON i.agreement = a.id
         JOIN escrow.retainer_attempt t ON t.invoice = i.number AND t.state = 'open'
         GROUP BY a.id HAVING count(*) > 1",
    ),
}

/// Runs every check against the books and the provider's records.
pub async fn check(
    pool: &PgPool,
    provider: &dyn PaymentProvider,
) -> Result<Vec<Violation>, CheckError> {
    let mut violations = check_books(pool).await?;
    violations.extend(check_provider(pool, provider).await?);
    Ok(violations)
}

/// The checks of the double-entry ledger itself, whatever the money is for.
pub const LEDGER_CHECKS: &[&str] = &[
    "currency_sums_to_zero",
    "no_overdrawn_account",
    "account_limits_follow_names",
    "transfer_states_well_formed",
    "feed_is_complete_and_ordered",
];

/// Runs only the checks of the ledger itself (for synthetic transfers, as the benchmark
/// makes, that belong to no pledge).
pub async fn check_ledger(pool: &PgPool) -> Result<Vec<Violation>, sqlx::Error> {
    check_named(pool, |name| LEDGER_CHECKS.contains(&name)).await
}

/// Runs the checks of the books alone, without asking the provider.
pub async fn check_books(pool: &PgPool) -> Result<Vec<Violation>, sqlx::Error> {
    check_named(pool, |_| true).await
}

async fn check_named(
    pool: &PgPool,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<Violation>, sqlx::Error> {
    let mut violations = Vec::new();
    for name in SQL_CHECKS.iter().filter(|name| wanted(name)) {
        let rows = run_sql_check(pool, name).await?;
        violations.extend(rows.into_iter().map(|detail| Violation {
            check: name,
            detail: detail.unwrap_or_else(|| "(no detail)".into()),
        }));
    }
    Ok(violations)
}

/// The ledger agrees with the provider: the clearing balance equals the provider's balance,
/// and every refund or transfer the provider made is exactly one posted ledger transfer.
async fn check_provider(
    pool: &PgPool,
    provider: &dyn PaymentProvider,
) -> Result<Vec<Violation>, CheckError> {
    let mut violations = Vec::new();
    let clearing = sqlx::query!(
        r#"SELECT ledger AS "ledger!", debits_posted - credits_posted AS "balance!"
         FROM escrow.account_balance WHERE name = $1"#,
        super::PROVIDER_CLEARING,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| (row.ledger, row.balance))
    .collect::<Vec<(String, i64)>>();
    for (currency, ours) in &clearing {
        if let Some(theirs) = provider.balance(currency).await? {
            if theirs != *ours {
                violations.push(Violation {
                    check: "provider_balance_matches_clearing",
                    detail: format!("{currency}: ledger clearing {ours}, provider {theirs}"),
                });
            }
        }
    }
    let Some(movements) = provider.movements().await? else {
        return Ok(violations);
    };
    let posted = sqlx::query!(
        r#"SELECT id AS "id!", kind AS "kind!", amount AS "amount!", ledger AS "ledger!"
         FROM escrow.transfer_current
         WHERE kind IN ($1, $2) AND state = 'posted'"#,
        Kind::RefundPayment.as_str(),
        Kind::Payout.as_str(),
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| (row.id, row.kind, row.amount, row.ledger))
    .collect::<Vec<(String, String, i64, String)>>();
    let mut by_key: std::collections::HashMap<&str, Vec<&crate::provider::Movement>> =
        std::collections::HashMap::new();
    for movement in &movements {
        by_key
            .entry(movement.idempotency_key.as_str())
            .or_default()
            .push(movement);
    }
    for (id, kind, amount, currency) in &posted {
        let want = if kind == Kind::Payout.as_str() {
            MovementKind::Transfer
        } else {
            MovementKind::Refund
        };
        let found = by_key.get(id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let matching = found
            .iter()
            .filter(|m| m.kind == want && m.amount == *amount && &m.currency == currency)
            .count();
        if matching != 1 || found.len() != 1 {
            violations.push(Violation {
                check: "provider_movements_match_ledger",
                detail: format!(
                    "{kind} {id} of {amount} {currency}: {} provider movements",
                    found.len()
                ),
            });
        }
    }
    let posted_ids: std::collections::HashSet<&str> =
        posted.iter().map(|(id, ..)| id.as_str()).collect();
    for movement in &movements {
        if !posted_ids.contains(movement.idempotency_key.as_str()) {
            violations.push(Violation {
                check: "provider_movements_match_ledger",
                detail: format!(
                    "provider {:?} {} ({} {}) has no posted ledger transfer",
                    movement.kind, movement.idempotency_key, movement.amount, movement.currency
                ),
            });
        }
    }
    Ok(violations)
}
