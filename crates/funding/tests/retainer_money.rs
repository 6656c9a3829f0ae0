//! Billing-period arithmetic, the fee split and a maintainer's public totals, for any input.

use std::collections::BTreeSet;

use greenlight_funding::billing_period::{boundary, days_in_month, is_leap_year};
use greenlight_funding::*;
use proptest::prelude::*;

fn date() -> impl Strategy<Value = Date> {
    (1i32..=9999, 1u8..=12, 1u8..=31).prop_map(|(y, m, d)| {
        let last = days_in_month(y, m);
        Date::new(y, m, d.min(last)).unwrap()
    })
}

fn recent_date() -> impl Strategy<Value = Date> {
    (1970i32..2200, 1u8..=12, 1u8..=31).prop_map(|(y, m, d)| {
        let last = days_in_month(y, m);
        Date::new(y, m, d.min(last)).unwrap()
    })
}

fn period() -> impl Strategy<Value = Period> {
    prop_oneof![Just(Period::Month), Just(Period::Year)]
}

#[test]
fn leap_years_follow_the_gregorian_rule() {
    assert!(is_leap_year(2024));
    assert!(!is_leap_year(2025));
    assert!(!is_leap_year(1900));
    assert!(is_leap_year(2000));
    assert_eq!(Date::new(2025, 2, 29), None);
    assert_eq!(Date::new(2025, 13, 1), None);
    assert_eq!(Date::new(0, 1, 1), None);
    assert_eq!(Date::new(10_000, 1, 1), None);
}

#[test]
fn days_and_timestamps_agree_with_known_dates() {
    // 2026-11-30T00:00:00Z is 1 795 996 800 seconds after the epoch (`date -d 2026-11-30 +%s`).
    let d = Date::new(2026, 11, 30).unwrap();
    assert_eq!(d.start(), Timestamp::from_micros(1_795_996_800_000_000));
    // One microsecond before midnight is still the day before.
    assert_eq!(
        Date::from_timestamp(Timestamp::from_micros(1_795_996_800_000_000 - 1)),
        Date::new(2026, 11, 29)
    );
    assert_eq!(Date::MIN.to_string(), "0001-01-01");
    assert_eq!(
        Date::from_days_since_epoch(Date::MAX.days_since_epoch()),
        Some(Date::MAX)
    );
    assert_eq!(
        Date::from_days_since_epoch(Date::MAX.days_since_epoch() + 1),
        None
    );
    assert_eq!(
        Date::from_days_since_epoch(Date::MIN.days_since_epoch() - 1),
        None
    );
    assert_eq!(Date::from_timestamp(Timestamp::from_micros(i64::MIN)), None);
    assert_eq!(Date::from_timestamp(Timestamp::from_micros(i64::MAX)), None);
}

#[test]
fn the_fee_pins_escrows_rounding() {
    assert_eq!(PUBLISHED_FEE_BASIS_POINTS, 500);
    for amount in [0, 1, 7, 99, 101, 12_345, 99_999_999_999, i64::MAX] {
        for bps in [0, 1, 250, 500, 999, 10_000] {
            let parts = split_fee(amount, bps);
            assert_eq!(parts.fee + parts.payout, amount, "{amount} at {bps}");
            assert!(parts.fee >= 0 && parts.payout >= 0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn days_round_trip(d in date()) {
        prop_assert_eq!(Date::from_days_since_epoch(d.days_since_epoch()), Some(d));
        prop_assert_eq!(Date::from_timestamp(d.start()), Some(d));
        // The next day is one day later, in order.
        if let Some(next) = d.add_days(1) {
            prop_assert!(next > d);
            prop_assert_eq!(next.days_since_epoch(), d.days_since_epoch() + 1);
        }
    }

    #[test]
    fn any_microsecond_falls_on_the_day_that_contains_it(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999) {
        let d = Date::from_timestamp(Timestamp::from_micros(micros)).unwrap();
        prop_assert!(d.start().as_micros() <= micros);
        prop_assert!(micros - d.start().as_micros() < 86_400_000_000);
    }

    /// Periods tile time from the anchor: contiguous, on the anchor's day clamped to the
    /// month's end, of calendar length.
    #[test]
    fn periods_are_contiguous_and_clamped(anchor in recent_date(), period in period(), index in 0u32..400) {
        let p = period_bounds(anchor, period, index).unwrap();
        let q = period_bounds(anchor, period, index + 1).unwrap();
        prop_assert_eq!(p.end, q.start);
        prop_assert_eq!(p.index, index);
        prop_assert!(p.start < p.end);
        let expected_day = anchor.day().min(days_in_month(p.start.year(), p.start.month()));
        prop_assert_eq!(p.start.day(), expected_day);
        match period {
            Period::Month => prop_assert!((28..=31).contains(&p.days()), "{} days", p.days()),
            Period::Year => prop_assert!((365..=366).contains(&p.days()), "{} days", p.days()),
        }
        // Whole calendar months from the anchor: the month advances exactly.
        let months = (p.start.year() - anchor.year()) * 12 + i32::from(p.start.month()) - i32::from(anchor.month());
        prop_assert_eq!(months as u32, index * period.months());
        prop_assert_eq!(boundary(anchor, index * period.months()), Some(p.start));
    }

    /// Every day from the anchor on is in exactly the period that contains it.
    #[test]
    fn period_containing_finds_the_period(anchor in recent_date(), period in period(), offset in 0i64..20_000) {
        let d = anchor.add_days(offset).unwrap();
        let p = period_containing(anchor, period, d).unwrap();
        prop_assert!(p.contains(d), "{} not in {}..{}", d, p.start, p.end);
        prop_assert_eq!(Some(p), period_bounds(anchor, period, p.index));
        if offset > 0 {
            prop_assert_eq!(period_containing(anchor, period, anchor.add_days(-1).unwrap()), None);
        }
    }

    #[test]
    fn the_fee_never_favours_the_platform(amount in any::<i64>(), bps in 0u32..=10_000) {
        let parts = split_fee(amount, bps);
        let amount = amount.max(0);
        prop_assert_eq!(parts.fee + parts.payout, amount);
        prop_assert!(parts.fee >= 0 && parts.payout >= 0);
        // floor: fee × 10 000 ≤ amount × bps < (fee + 1) × 10 000.
        let exact = i128::from(amount) * i128::from(bps);
        prop_assert!(i128::from(parts.fee) * 10_000 <= exact);
        prop_assert!(exact < (i128::from(parts.fee) + 1) * 10_000);
    }

    /// Totals reconcile with the ledger's payments to the minor unit, and nobody who asked
    /// not to be listed is named.
    #[test]
    fn totals_reconcile_and_unlisted_clients_stay_unnamed(
        agreements in prop::collection::vec(
            (
                0usize..6,
                any::<bool>(),
                0usize..7,
                prop_oneof![Just("USD"), Just("EUR"), Just("JPY")],
                1i64..10_000_000,
                period(),
                prop::collection::vec(1i64..10_000_000, 0..8),
            ),
            0..20,
        )
    ) {
        let states = [
            AgreementState::Requested,
            AgreementState::Quoted,
            AgreementState::Active,
            AgreementState::PastDue { failed_retries: 1 },
            AgreementState::Cancelling,
            AgreementState::Ended,
            AgreementState::Lapsed,
        ];
        let input: Vec<ClientAgreement> = agreements
            .iter()
            .map(|(client, listed, state, currency, amount, period, payments)| ClientAgreement {
                client: format!("did:plc:client{client}"),
                listed_publicly: *listed,
                state: states[*state],
                terms: Terms {
                    tier: "Tier".into(),
                    amount: *amount,
                    currency: Currency::parse(currency).unwrap(),
                    period: *period,
                },
                fee_basis_points: PUBLISHED_FEE_BASIS_POINTS,
                payments: payments.clone(),
            })
            .collect();
        let totals = maintainer_totals(&input);
        let currencies: BTreeSet<Currency> = input.iter().map(|a| a.terms.currency).collect();
        prop_assert_eq!(totals.len(), currencies.len());
        for t in &totals {
            let mine: Vec<&ClientAgreement> = input.iter().filter(|a| a.terms.currency == t.currency).collect();
            let paid: i64 = mine.iter().flat_map(|a| &a.payments).sum();
            let fees: i64 = mine.iter().flat_map(|a| &a.payments).map(|&p| split_fee(p, PUBLISHED_FEE_BASIS_POINTS).fee).sum();
            prop_assert_eq!(t.paid, paid);
            prop_assert_eq!(t.fees, fees);
            prop_assert_eq!(t.fees + t.paid_out, t.paid);
            prop_assert_eq!(t.active_clients, mine.iter().filter(|a| a.state.is_in_force()).count() as u64);
            prop_assert!(t.listed_clients <= t.active_clients);
            for name in &t.named {
                prop_assert!(
                    mine.iter().any(|a| &a.client == name && a.listed_publicly && a.state.is_in_force()),
                    "{} named without asking", name
                );
            }
            let listed_in_force: BTreeSet<&str> = mine
                .iter()
                .filter(|a| a.listed_publicly && a.state.is_in_force())
                .map(|a| a.client.as_str())
                .collect();
            prop_assert_eq!(t.named.iter().map(String::as_str).collect::<BTreeSet<_>>(), listed_in_force);
        }
    }
}
