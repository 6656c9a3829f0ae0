//! The retainer agreement state machine: every event in every state, and properties of any
//! sequence of events.

use greenlight_funding::retainer::{apply, replay};
use greenlight_funding::*;
use proptest::prelude::*;

fn usd(tier: &str, amount: i64, period: Period) -> Terms {
    Terms {
        tier: tier.to_owned(),
        amount,
        currency: Currency::USD,
        period,
    }
}

fn middle() -> Terms {
    usd("Middle", 500_000, Period::Month)
}

fn top() -> Terms {
    usd("Top", 1_500_000, Period::Month)
}

/// A quote at the published fee.
fn quote(terms: Terms) -> Event {
    Event::Quote {
        terms,
        fee_basis_points: PUBLISHED_FEE_BASIS_POINTS,
    }
}

fn day(y: i32, m: u8, d: u8) -> Date {
    Date::new(y, m, d).unwrap()
}

fn start_day() -> Date {
    day(2026, 1, 31)
}

/// One event of each kind, with data that is valid on its own.
fn sample(kind: EventKind) -> Event {
    match kind {
        EventKind::Quote => quote(middle()),
        EventKind::Start => Event::Start { on: start_day() },
        EventKind::PaymentSucceeded => Event::PaymentSucceeded,
        EventKind::PaymentFailed => Event::PaymentFailed,
        EventKind::PeriodEnded => Event::PeriodEnded,
        EventKind::ChangeTier => Event::ChangeTier { terms: top() },
        EventKind::Cancel => Event::Cancel,
        EventKind::Uncancel => Event::Uncancel,
    }
}

fn run(events: &[Event]) -> Agreement {
    replay(Agreement::requested(middle()), events).unwrap()
}

/// Every distinct situation the machine can be in, reached through legal events, named.
fn situations() -> Vec<(&'static str, Agreement)> {
    use Event::*;
    let quote = quote(middle());
    let start = Start { on: start_day() };
    vec![
        ("requested", run(&[])),
        ("quoted", run(std::slice::from_ref(&quote))),
        ("active, unpaid", run(&[quote.clone(), start.clone()])),
        (
            "active, paid",
            run(&[quote.clone(), start.clone(), PaymentSucceeded]),
        ),
        (
            "past due",
            run(&[quote.clone(), start.clone(), PaymentFailed]),
        ),
        (
            "past due, one retry failed",
            run(&[quote.clone(), start.clone(), PaymentFailed, PaymentFailed]),
        ),
        (
            "past due, two retries failed",
            run(&[
                quote.clone(),
                start.clone(),
                PaymentFailed,
                PaymentFailed,
                PaymentFailed,
            ]),
        ),
        (
            "cancelling",
            run(&[quote.clone(), start.clone(), PaymentSucceeded, Cancel]),
        ),
        ("ended", run(&[Cancel])),
        (
            "lapsed",
            run(&[
                quote.clone(),
                start,
                PaymentFailed,
                PaymentFailed,
                PaymentFailed,
                PaymentFailed,
            ]),
        ),
    ]
}

/// What the rules say should happen, written out independently of the implementation:
/// `Ok(state name)` or `Err(refusal)`.
fn expected(situation: &str, kind: EventKind) -> Result<&'static str, Refusal> {
    use EventKind as E;
    let not_allowed = |state: AgreementState| Err(Refusal::NotAllowed { state, event: kind });
    match (situation, kind) {
        ("requested", E::Quote) => Ok("quoted"),
        ("requested", E::Cancel) => Ok("ended"),
        ("requested", _) => not_allowed(AgreementState::Requested),

        ("quoted", E::Quote) => Ok("quoted"),
        ("quoted", E::Start) => Ok("active"),
        ("quoted", E::Cancel) => Ok("ended"),
        ("quoted", _) => not_allowed(AgreementState::Quoted),

        ("active, unpaid", E::PaymentSucceeded) => Ok("active"),
        ("active, unpaid", E::PaymentFailed) => Ok("past_due"),
        ("active, unpaid", E::PeriodEnded) => Err(Refusal::PeriodUnpaid),
        ("active, unpaid", E::ChangeTier) => Ok("active"),
        ("active, unpaid", E::Cancel) => Ok("ended"),
        ("active, unpaid", _) => not_allowed(AgreementState::Active),

        ("active, paid", E::PaymentSucceeded | E::PaymentFailed) => Err(Refusal::AlreadyPaid),
        ("active, paid", E::PeriodEnded) => Ok("active"),
        ("active, paid", E::ChangeTier) => Ok("active"),
        ("active, paid", E::Cancel) => Ok("cancelling"),
        ("active, paid", _) => not_allowed(AgreementState::Active),

        ("past due", E::PaymentSucceeded) => Ok("active"),
        ("past due", E::PaymentFailed) => Ok("past_due"),
        ("past due", E::PeriodEnded) => Err(Refusal::PeriodUnpaid),
        ("past due", E::Cancel) => Ok("ended"),
        ("past due", _) => not_allowed(AgreementState::PastDue { failed_retries: 0 }),
        ("past due, one retry failed", E::PaymentSucceeded) => Ok("active"),
        ("past due, one retry failed", E::PaymentFailed) => Ok("past_due"),
        ("past due, one retry failed", E::PeriodEnded) => Err(Refusal::PeriodUnpaid),
        ("past due, one retry failed", E::Cancel) => Ok("ended"),
        ("past due, one retry failed", _) => {
            not_allowed(AgreementState::PastDue { failed_retries: 1 })
        }
        ("past due, two retries failed", E::PaymentSucceeded) => Ok("active"),
        // The third and last retry of the published schedule failed.
        ("past due, two retries failed", E::PaymentFailed) => Ok("lapsed"),
        ("past due, two retries failed", E::PeriodEnded) => Err(Refusal::PeriodUnpaid),
        ("past due, two retries failed", E::Cancel) => Ok("ended"),
        ("past due, two retries failed", _) => {
            not_allowed(AgreementState::PastDue { failed_retries: 2 })
        }

        ("cancelling", E::PaymentSucceeded) => Err(Refusal::AlreadyPaid),
        ("cancelling", E::PeriodEnded) => Ok("ended"),
        ("cancelling", E::Uncancel) => Ok("active"),
        ("cancelling", _) => not_allowed(AgreementState::Cancelling),

        ("ended", _) => not_allowed(AgreementState::Ended),
        ("lapsed", _) => not_allowed(AgreementState::Lapsed),
        (other, _) => panic!("no expectations for {other}"),
    }
}

#[test]
fn every_event_in_every_state_does_what_the_table_says_and_nothing_else() {
    let mut refused = 0;
    let mut allowed = 0;
    for (name, agreement) in situations() {
        for kind in EventKind::ALL {
            let got = apply(&agreement, &sample(kind));
            match (expected(name, kind), got) {
                (Ok(state), Ok(after)) => {
                    assert_eq!(after.state.as_str(), state, "{name} + {kind:?}");
                    allowed += 1;
                }
                (Err(want), Err(got)) => {
                    assert_eq!(got, want, "{name} + {kind:?}");
                    refused += 1;
                }
                (want, got) => panic!("{name} + {kind:?}: expected {want:?}, got {got:?}"),
            }
        }
    }
    // 10 situations × 8 kinds; keeps the table honest if either side grows.
    assert_eq!(allowed + refused, 80);
    assert_eq!(allowed, 23);
}

#[test]
fn the_situations_are_distinct_and_reached_legally() {
    let all = situations();
    for (i, (a, x)) in all.iter().enumerate() {
        for (b, y) in &all[i + 1..] {
            assert_ne!(x, y, "{a} and {b} are the same agreement");
        }
    }
}

#[test]
fn data_guards_refuse_unbillable_terms_and_a_change_of_currency() {
    let requested = Agreement::requested(middle());
    for terms in [
        usd("Free", 0, Period::Month),
        usd("Negative", -1, Period::Month),
        Terms {
            currency: Currency::parse("XYZ").unwrap(),
            ..middle()
        },
    ] {
        assert_eq!(
            apply(&requested, &quote(terms.clone())),
            Err(Refusal::NotBillable)
        );
        let active = run(&[quote(middle()), Event::Start { on: start_day() }]);
        assert_eq!(
            apply(&active, &Event::ChangeTier { terms }),
            Err(Refusal::NotBillable)
        );
    }
    let active = run(&[quote(middle()), Event::Start { on: start_day() }]);
    let euros = Terms {
        currency: Currency::parse("EUR").unwrap(),
        ..top()
    };
    assert_eq!(
        apply(&active, &Event::ChangeTier { terms: euros }),
        Err(Refusal::CurrencyChange {
            agreement: Currency::USD,
            found: Currency::parse("EUR").unwrap()
        })
    );
}

#[test]
fn the_fee_is_fixed_by_the_quote() {
    let quoted = apply(
        &Agreement::requested(middle()),
        &Event::Quote {
            terms: middle(),
            fee_basis_points: 250,
        },
    )
    .unwrap();
    let active = apply(&quoted, &Event::Start { on: start_day() }).unwrap();
    let payment = active.current_payment().unwrap();
    assert_eq!((payment.split.fee, payment.split.payout), (12_500, 487_500));
    assert_eq!(
        apply(
            &quoted,
            &Event::Quote {
                terms: middle(),
                fee_basis_points: 10_001
            }
        ),
        Err(Refusal::FeeOutOfRange {
            basis_points: 10_001
        })
    );
    assert_eq!(Agreement::requested(middle()).current_payment(), None);
}

#[test]
fn a_start_whose_first_period_leaves_the_calendar_is_refused() {
    let quoted = run(&[quote(middle())]);
    assert_eq!(
        apply(
            &quoted,
            &Event::Start {
                on: day(9999, 12, 15)
            }
        ),
        Err(Refusal::OutOfRange)
    );
    let yearly = run(&[quote(usd("Yearly", 100, Period::Year))]);
    let last = apply(
        &yearly,
        &Event::Start {
            on: day(9998, 6, 1),
        },
    )
    .unwrap();
    let paid = apply(&last, &Event::PaymentSucceeded).unwrap();
    assert_eq!(apply(&paid, &Event::PeriodEnded), Err(Refusal::OutOfRange));
}

/// The story, in the rules: three periods, a failed charge retried, an upgrade that
/// waits for the next period, a cancellation that runs to the end of the paid period.
#[test]
fn three_periods_a_retry_an_upgrade_and_a_cancellation() {
    use Event::*;
    let mut a = Agreement::requested(middle());
    let mut step = |event: Event| {
        a = apply(&a, &event).unwrap_or_else(|r| panic!("{event:?}: {r}"));
        a.clone()
    };
    step(quote(middle()));
    let started = step(Start { on: start_day() });
    assert_eq!(
        started.current_period(),
        Some((day(2026, 1, 31), day(2026, 2, 28)))
    );
    step(PaymentSucceeded);
    step(PeriodEnded);
    // Period 2: the charge fails, is retried once and succeeds.
    step(PaymentFailed);
    let retrying = step(PaymentFailed);
    assert_eq!(
        retrying.state,
        AgreementState::PastDue { failed_retries: 1 }
    );
    step(PaymentSucceeded);
    // The upgrade is asked for mid-period: this period stays at the middle price.
    let upgraded = step(ChangeTier { terms: top() });
    assert_eq!(upgraded.terms, middle());
    assert_eq!(upgraded.next_terms, Some(top()));
    assert_eq!(upgraded.current_payment().unwrap().amount, 500_000);
    let third = step(PeriodEnded);
    assert_eq!(third.terms, top());
    assert_eq!(third.next_terms, None);
    assert_eq!(third.periods, 3);
    assert_eq!(
        third.current_period(),
        Some((day(2026, 3, 31), day(2026, 4, 30)))
    );
    step(PaymentSucceeded);
    let cancelling = step(Cancel);
    assert_eq!(cancelling.state, AgreementState::Cancelling);
    assert!(cancelling.state.is_in_force());
    let ended = step(PeriodEnded);
    assert_eq!(ended.state, AgreementState::Ended);
    assert!(!ended.state.is_in_force());
}

#[test]
fn changing_back_to_the_tier_in_force_withdraws_the_pending_change() {
    let a = run(&[
        quote(middle()),
        Event::Start { on: start_day() },
        Event::ChangeTier { terms: top() },
        Event::ChangeTier { terms: middle() },
    ]);
    assert_eq!(a.next_terms, None);
}

#[test]
fn a_monthly_agreement_moving_to_a_yearly_tier_keeps_its_renewal_day() {
    let yearly = usd("Yearly", 5_000_000, Period::Year);
    let a = run(&[
        quote(middle()),
        Event::Start { on: start_day() },
        Event::PaymentSucceeded,
        Event::ChangeTier {
            terms: yearly.clone(),
        },
        Event::PeriodEnded,
    ]);
    assert_eq!(a.terms, yearly);
    assert_eq!(
        a.current_period(),
        Some((day(2026, 2, 28), day(2027, 2, 28)))
    );
    let b = replay(a, &[Event::PaymentSucceeded, Event::PeriodEnded]).unwrap();
    assert_eq!(
        b.current_period(),
        Some((day(2027, 2, 28), day(2028, 2, 29)))
    );
}

#[test]
fn the_retry_schedule_is_published_and_ends() {
    assert_eq!(RETRY_SCHEDULE_DAYS, [3, 7, 14]);
    let failed = day(2026, 2, 28);
    assert_eq!(next_retry_on(failed, 0), Some(day(2026, 3, 3)));
    assert_eq!(next_retry_on(failed, 1), Some(day(2026, 3, 7)));
    assert_eq!(next_retry_on(failed, 2), Some(day(2026, 3, 14)));
    assert_eq!(next_retry_on(failed, 3), None);
    // All retries fit inside the shortest period.
    assert!(RETRY_SCHEDULE_DAYS.iter().all(|&d| d < 28));
    assert!(RETRY_SCHEDULE_DAYS.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn retainer_payments_do_not_raise_the_estimate_cap() {
    assert!(counts_toward_estimate_cap(ContributionKind::Donation));
    assert!(counts_toward_estimate_cap(ContributionKind::PaidOutPledge));
    assert!(!counts_toward_estimate_cap(
        ContributionKind::RetainerPayment
    ));
}

#[test]
fn a_period_pays_the_maintainer_the_price_minus_the_published_fee() {
    let payment = period_payment(&middle());
    assert_eq!(payment.amount, 500_000);
    assert_eq!(payment.split.fee, 25_000);
    assert_eq!(payment.split.payout, 475_000);
    let odd = period_payment(&usd("Odd", 1_999, Period::Month));
    assert_eq!((odd.split.fee, odd.split.payout), (99, 1_900));
    let yen = period_payment(&Terms {
        currency: Currency::parse("JPY").unwrap(),
        ..usd("Yen", 50_000, Period::Year)
    });
    assert_eq!((yen.split.fee, yen.split.payout), (2_500, 47_500));
    assert_eq!(
        greenlight_funding::retainer::period_payment_at(&middle(), 0)
            .split
            .payout,
        500_000
    );
}

/// Any event, weighted so that sequences often get far: mostly billable terms, payments
/// and period ends, few cancellations (a test below checks every state is reached).
fn event() -> impl Strategy<Value = Event> {
    let terms = (
        prop_oneof![Just("Small"), Just("Middle"), Just("Top")],
        prop_oneof![1 => Just(0i64), 8 => 1i64..2_000_000, 1 => Just(i64::MAX)],
        prop_oneof![6 => Just("USD"), 1 => Just("EUR"), 1 => Just("XYZ")],
        prop_oneof![Just(Period::Month), Just(Period::Year)],
    )
        .prop_map(|(tier, amount, currency, period)| Terms {
            tier: tier.to_owned(),
            amount,
            currency: Currency::parse(currency).unwrap(),
            period,
        });
    // Any day of any month, so month-end anchors (29th to 31st) get clamped.
    let on = (1990i32..2100, 1u8..=12, 1u8..=31)
        .prop_map(|(y, m, d)| Date::new(y, m, d.min(billing_period::days_in_month(y, m))).unwrap());
    let fee = prop_oneof![Just(0u32), Just(500), Just(10_000), Just(10_001)];
    prop_oneof![
        2 => (terms.clone(), fee).prop_map(|(terms, fee_basis_points)| Event::Quote {
            terms,
            fee_basis_points
        }),
        2 => on.prop_map(|on| Event::Start { on }),
        5 => Just(Event::PaymentSucceeded),
        3 => Just(Event::PaymentFailed),
        5 => Just(Event::PeriodEnded),
        2 => terms.prop_map(|terms| Event::ChangeTier { terms }),
        1 => Just(Event::Cancel),
        1 => Just(Event::Uncancel),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Whatever escrow records, in any order: the invariants the money depends on hold.
    #[test]
    fn any_sequence_of_events_keeps_the_invariants(events in prop::collection::vec(event(), 0..60)) {
        let mut a = Agreement::requested(middle());
        let mut paid_this_period = 0u32;
        let mut consecutive_failures = 0usize;
        let mut started_currency = None;
        for event in &events {
            match apply(&a, event) {
                Err(_) => {
                    // Final states refuse everything.
                    continue;
                }
                Ok(next) => {
                    prop_assert!(!a.state.is_final(), "{:?} left final {:?}", event, a.state);
                    match event {
                        Event::PaymentSucceeded => {
                            paid_this_period += 1;
                            consecutive_failures = 0;
                        }
                        Event::PaymentFailed => consecutive_failures += 1,
                        Event::PeriodEnded => {
                            // A period ends only once paid, and was paid exactly once.
                            prop_assert_eq!(paid_this_period, 1);
                            paid_this_period = 0;
                            if next.state == AgreementState::Active {
                                let (_, old_end) = a.current_period().unwrap();
                                let (new_start, _) = next.current_period().unwrap();
                                prop_assert_eq!(old_end, new_start, "periods are contiguous");
                                prop_assert_eq!(next.periods, a.periods + 1);
                            }
                        }
                        _ => {}
                    }
                    prop_assert!(paid_this_period <= 1, "charged twice in one period");
                    // The terms in force change only by a quote before the start, or at a
                    // period's end: never inside a running period.
                    if next.terms != a.terms {
                        let before_start = a.anchor.is_none() && matches!(event, Event::Quote { .. });
                        prop_assert!(before_start || matches!(event, Event::PeriodEnded));
                    }
                    if next.anchor.is_some() {
                        let currency = *started_currency.get_or_insert(next.terms.currency);
                        prop_assert_eq!(next.terms.currency, currency);
                        prop_assert!(next.terms.is_billable());
                        if let Some(pending) = &next.next_terms {
                            prop_assert_eq!(pending.currency, currency);
                        }
                    }
                    if next.state == AgreementState::Lapsed {
                        prop_assert_eq!(consecutive_failures, RETRY_SCHEDULE_DAYS.len() + 1);
                    }
                    if next.state == AgreementState::Cancelling {
                        prop_assert!(next.current_paid, "only a paid period runs to its end");
                    }
                    if let AgreementState::PastDue { failed_retries } = next.state {
                        prop_assert!(usize::from(failed_retries) < RETRY_SCHEDULE_DAYS.len());
                        prop_assert!(!next.current_paid);
                    }
                    a = next;
                }
            }
        }
        if a.state.is_final() {
            for kind in EventKind::ALL {
                prop_assert!(apply(&a, &sample(kind)).is_err());
            }
        }
    }

    /// The function is pure: the same input always gives the same answer.
    #[test]
    fn apply_is_deterministic(events in prop::collection::vec(event(), 0..30), last in event()) {
        let a = events.iter().fold(Agreement::requested(middle()), |a, e| apply(&a, e).unwrap_or(a));
        prop_assert_eq!(apply(&a, &last), apply(&a.clone(), &last));
    }
}

/// The random sequences above are only worth something if they reach every state; this
/// keeps the generator honest.
#[test]
fn the_generated_sequences_reach_every_state() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    // Every sequence starts requested; the other six states must be reached by events.
    let mut reached = std::collections::BTreeSet::from(["requested"]);
    let mut periods_ended = 0;
    for _ in 0..2048 {
        let events = prop::collection::vec(event(), 0..60)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut a = Agreement::requested(middle());
        for e in &events {
            if let Ok(next) = apply(&a, e) {
                periods_ended += usize::from(matches!(e, Event::PeriodEnded));
                a = next;
                reached.insert(a.state.as_str());
            }
        }
    }
    assert_eq!(
        reached.len(),
        7,
        "reached only {reached:?} (the generator needs tuning)"
    );
    assert!(periods_ended > 500, "only {periods_ended} periods ended");
}
