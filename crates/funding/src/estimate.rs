//! Estimates ("I would pay this much"): caps, latest-wins, the preview freeze and totals.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::currency::Currency;
use crate::timestamp::Timestamp;

/// The newcomer floor, in minor units, of a currency that is not in the table: 25.00 at two
/// decimals, the floor every currency had before the table. [`crate::derive`] must give a
/// state for any input, so it needs some cap there; the indexer refuses records in such a
/// currency, so this only ever applies to input that bypassed it.
const UNSUPPORTED_CURRENCY_FLOOR: i64 = 2_500;

/// A `fund.greenlight.estimate` record about one proposal, as the AppView read it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimateRecord {
    /// The record's `at://` URI; breaks ties between equal `createdAt`s.
    pub uri: String,
    /// DID of the repository the record lives in.
    pub author: String,
    /// Amount in minor units of `currency`, as written (untrusted: may be anything).
    pub amount: i64,
    /// Currency of `amount`.
    pub currency: Currency,
    /// The record's `createdAt`.
    pub created_at: Timestamp,
}

/// A fact from escrow: the largest successful contribution (a donation, or a pledge that was
/// paid out) an account ever made in one currency.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LargestContribution {
    /// DID of the contributor.
    pub author: String,
    /// Currency of the contribution.
    pub currency: Currency,
    /// Amount in minor units.
    pub amount: i64,
}

/// The most an estimate in `currency` counts, given its author's largest successful
/// contribution in that currency: `max(newcomer floor, 2 × largest)`, in `currency`'s minor
/// units, saturating instead of overflowing.
///
/// The newcomer floor is the currency's [`Currency::newcomer_floor_minor`] (25.00 USD,
/// 4 000 JPY, 10.000 BHD). A currency not in the table gets 2 500 minor units so that the
/// function stays total (see [`crate::currency`], "Codes not in the table").
pub fn estimate_cap(largest: Option<i64>, currency: Currency) -> i64 {
    let floor = currency
        .newcomer_floor_minor()
        .unwrap_or(UNSUPPORTED_CURRENCY_FLOOR);
    largest.map_or(floor, |largest| floor.max(largest.saturating_mul(2)))
}

/// Why an estimate is shown but adds nothing to the total.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Exclusion {
    /// Another record with the same URI was already considered (malformed input).
    DuplicateUri,
    /// The same author wrote a newer estimate that takes this one's place in the total.
    Superseded {
        /// URI of the estimate that counts instead.
        by: String,
    },
    /// Created after the preview began, when totals are frozen.
    Frozen {
        /// When the first accepted preview began.
        preview_started_at: Timestamp,
    },
    /// Not in the proposal's currency; amounts are never converted.
    WrongCurrency {
        /// The proposal's currency.
        expected: Currency,
        /// The estimate's currency.
        found: Currency,
    },
    /// A negative amount, which no lexicon-valid record has.
    NegativeAmount,
}

/// How one estimate record counts toward the proposal's total.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimateVerdict {
    /// The record as given.
    #[serde(flatten)]
    pub record: EstimateRecord,
    /// The author's cap in the estimate's currency.
    pub cap: i64,
    /// Minor units this estimate adds to the total (0 when excluded).
    pub counted: i64,
    /// Whether it counts and was cut down to the cap.
    pub capped: bool,
    /// Every reason it does not count; empty means it counts.
    pub exclusions: Vec<Exclusion>,
}

impl EstimateVerdict {
    /// Whether the estimate adds to the total.
    pub fn is_counted(&self) -> bool {
        self.exclusions.is_empty()
    }

    /// Whether it was created after the preview began.
    pub fn is_frozen(&self) -> bool {
        self.exclusions
            .iter()
            .any(|e| matches!(e, Exclusion::Frozen { .. }))
    }

    /// Whether a newer estimate by the same author counts instead.
    pub fn is_superseded(&self) -> bool {
        self.exclusions
            .iter()
            .any(|e| matches!(e, Exclusion::Superseded { .. }))
    }

    /// Whether it is in a currency other than the proposal's.
    pub fn is_wrong_currency(&self) -> bool {
        self.exclusions
            .iter()
            .any(|e| matches!(e, Exclusion::WrongCurrency { .. }))
    }
}

/// The estimate totals of one proposal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Currency of every amount here.
    pub currency: Currency,
    /// Estimate records shown (every record given, counted or not).
    pub shown_estimates: u64,
    /// Estimates that count: at most one per author.
    pub counted_estimates: u64,
    /// Sum of counted amounts in minor units; saturates at `i64::MAX`, never negative.
    pub counted_sum: i64,
    /// Counted estimates that were cut down to their author's cap.
    pub capped_estimates: u64,
}

/// Judges every estimate and sums the ones that count.
///
/// `frozen_after` is when the first accepted preview began; estimates created strictly later
/// do not count.
pub(crate) fn assess(
    currency: Currency,
    frozen_after: Option<Timestamp>,
    estimates: &[EstimateRecord],
    contributions: &[LargestContribution],
) -> (Vec<EstimateVerdict>, Totals) {
    let mut largest: BTreeMap<(&str, Currency), i64> = BTreeMap::new();
    for c in contributions {
        largest
            .entry((c.author.as_str(), c.currency))
            .and_modify(|amount| *amount = (*amount).max(c.amount))
            .or_insert(c.amount);
    }

    let mut ordered: Vec<&EstimateRecord> = estimates.iter().collect();
    ordered.sort_by(|a, b| {
        (a.created_at, &a.uri)
            .cmp(&(b.created_at, &b.uri))
            .then_with(|| a.cmp(b))
    });

    let is_frozen = |e: &EstimateRecord| frozen_after.is_some_and(|start| e.created_at > start);

    // First pass: drop repeated URIs and find, per author, the newest estimate from before the
    // freeze. Freezing keeps the total as it stood when the preview began, so a change of mind
    // during the preview neither adds nor removes anything.
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut duplicate = vec![false; ordered.len()];
    let mut current: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, e) in ordered.iter().enumerate() {
        if !seen.insert(e.uri.as_str()) {
            duplicate[i] = true;
        } else if !is_frozen(e) {
            current.insert(e.author.as_str(), i);
        }
    }

    let mut totals = Totals {
        currency,
        shown_estimates: 0,
        counted_estimates: 0,
        counted_sum: 0,
        capped_estimates: 0,
    };
    let mut verdicts = Vec::with_capacity(ordered.len());
    for (i, e) in ordered.iter().enumerate() {
        let cap = estimate_cap(
            largest.get(&(e.author.as_str(), e.currency)).copied(),
            e.currency,
        );
        let mut exclusions = Vec::new();
        if duplicate[i] {
            exclusions.push(Exclusion::DuplicateUri);
        } else {
            match (frozen_after, current.get(e.author.as_str())) {
                (Some(start), _) if is_frozen(e) => exclusions.push(Exclusion::Frozen {
                    preview_started_at: start,
                }),
                (_, Some(&winner)) if winner != i => exclusions.push(Exclusion::Superseded {
                    by: ordered[winner].uri.clone(),
                }),
                _ => {}
            }
        }
        if e.currency != currency {
            exclusions.push(Exclusion::WrongCurrency {
                expected: currency,
                found: e.currency,
            });
        }
        if e.amount < 0 {
            exclusions.push(Exclusion::NegativeAmount);
        }

        let (counted, capped) = if exclusions.is_empty() {
            (e.amount.min(cap), e.amount > cap)
        } else {
            (0, false)
        };
        totals.shown_estimates += 1;
        if exclusions.is_empty() {
            totals.counted_estimates += 1;
            totals.counted_sum = totals.counted_sum.saturating_add(counted);
            totals.capped_estimates += u64::from(capped);
        }
        verdicts.push(EstimateVerdict {
            record: (*e).clone(),
            cap,
            counted,
            capped,
            exclusions,
        });
    }
    (verdicts, totals)
}
