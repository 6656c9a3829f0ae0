//! Properties that must hold for any records, however hostile.

mod fixture;

use std::collections::BTreeSet;

use fixture::*;
use greenlight_funding::*;
use proptest::prelude::*;

const AUTHORS: [&str; 5] = [
    OWNER,
    MAINTAINER,
    STRANGER,
    "did:plc:backer1",
    "did:plc:backer2",
];

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..20_000,
        Just(i64::MAX),
        Just(i64::MAX - 1),
        Just(i64::MIN),
        Just(0),
        any::<i64>(),
    ]
}

fn currency() -> impl Strategy<Value = Currency> {
    // JPY and BHD have other exponents and floors than USD/EUR; XYZ is not in the table.
    prop_oneof![
        4 => Just(Currency::USD),
        1 => Just(eur()),
        1 => Just(Currency::parse("JPY").unwrap()),
        1 => Just(Currency::parse("BHD").unwrap()),
        1 => Just(Currency::parse("XYZ").unwrap()),
    ]
}

/// The floor a newcomer's estimate is capped at: the table's, or the 2 500 minor units the
/// pure derive uses for a currency not in the table.
fn newcomer_floor(currency: Currency) -> i64 {
    currency.newcomer_floor_minor().unwrap_or(2_500)
}

// A narrow time range makes ties on createdAt common, which is where ordering bugs hide.
fn time() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        (0i64..12).prop_map(t),
        Just(Timestamp(i64::MIN)),
        Just(Timestamp(i64::MAX))
    ]
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("https://github.com/example/tool".to_owned()),
        Just(String::new()),
        Just("ftp://example.com".to_owned()),
        ".{0,20}",
    ]
}

fn update() -> impl Strategy<Value = StageUpdate> {
    prop_oneof![
        (amount(), currency()).prop_map(|(goal, c)| dev_in(goal, c)),
        (url(), time()).prop_map(|(url, ends_at)| StageUpdate::Preview {
            url,
            instructions: "try it".into(),
            ends_at,
        }),
        url().prop_map(|u| release(&u)),
        Just(decline()),
    ]
}

fn status_record() -> impl Strategy<Value = StatusRecord> {
    // Small rkey space: repeated URIs (malformed input) happen too.
    (0..AUTHORS.len(), 0u8..6, time(), update())
        .prop_map(|(a, rkey, at, u)| status(AUTHORS[a], &format!("s{rkey}"), at, u))
}

fn estimate_record() -> impl Strategy<Value = EstimateRecord> {
    (0..AUTHORS.len(), 0u8..6, amount(), currency(), time())
        .prop_map(|(a, rkey, amt, c, at)| estimate_in(AUTHORS[a], &format!("e{rkey}"), amt, c, at))
}

fn contribution_fact() -> impl Strategy<Value = LargestContribution> {
    (0..AUTHORS.len(), currency(), amount())
        .prop_map(|(a, c, amt)| contribution(AUTHORS[a], c, amt))
}

fn subject() -> impl Strategy<Value = ProposalSubject> {
    prop_oneof![
        6 => (currency(), prop::collection::vec(0..AUTHORS.len(), 0..3)).prop_map(|(c, m)| {
            ProposalSubject::Project(ProjectRecord {
                owner: OWNER.into(),
                maintainers: m.iter().map(|&i| AUTHORS[i].to_owned()).collect(),
                accepted: m.into_iter().map(|i| AUTHORS[i].to_owned()).collect(),
                currency: c,
            })
        }),
        1 => Just(ProposalSubject::Repository { url: "https://github.com/example/tool".into() }),
        1 => Just(ProposalSubject::UnknownProject),
    ]
}

fn proposal_input() -> impl Strategy<Value = ProposalInput> {
    (
        subject(),
        prop::collection::vec(status_record(), 0..12),
        prop::collection::vec(estimate_record(), 0..16),
        prop::collection::vec(contribution_fact(), 0..8),
    )
        .prop_map(
            |(subject, statuses, estimates, contributions)| ProposalInput {
                subject,
                statuses,
                estimates,
                contributions,
            },
        )
}

/// The same input with every list (and the maintainer list) shuffled.
fn input_and_permutation() -> impl Strategy<Value = (ProposalInput, ProposalInput)> {
    proposal_input().prop_flat_map(|input| {
        let maintainers = match &input.subject {
            ProposalSubject::Project(p) => p.maintainers.clone(),
            _ => vec![],
        };
        (
            Just(input.clone()),
            Just(input.statuses.clone()).prop_shuffle(),
            Just(input.estimates.clone()).prop_shuffle(),
            Just(input.contributions.clone()).prop_shuffle(),
            Just(maintainers).prop_shuffle(),
        )
            .prop_map(|(input, statuses, estimates, contributions, maintainers)| {
                let mut shuffled = ProposalInput {
                    subject: input.subject.clone(),
                    statuses,
                    estimates,
                    contributions,
                };
                if let ProposalSubject::Project(p) = &mut shuffled.subject {
                    p.maintainers = maintainers;
                }
                (input, shuffled)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn totals_are_never_negative_and_consistent(input in proposal_input()) {
        let state = derive(&input);
        let totals = &state.totals;
        prop_assert!(totals.counted_sum >= 0);
        prop_assert_eq!(totals.shown_estimates as usize, input.estimates.len());
        prop_assert_eq!(state.estimates.len(), input.estimates.len());

        let mut expected_sum: i64 = 0;
        let mut counted_authors = BTreeSet::new();
        for v in &state.estimates {
            prop_assert!(v.counted >= 0);
            prop_assert!(v.counted <= v.cap, "counted {} over cap {}", v.counted, v.cap);
            prop_assert!(v.cap >= newcomer_floor(v.record.currency));
            prop_assert!(v.counted <= v.record.amount.max(0));
            if v.is_counted() {
                prop_assert_eq!(v.record.currency, state.currency);
                // Latest wins: at most one counted estimate per author.
                prop_assert!(counted_authors.insert(v.record.author.clone()));
                prop_assert_eq!(v.capped, v.record.amount > v.cap);
                if let Some(start) = state.preview_started_at {
                    prop_assert!(v.record.created_at <= start);
                }
                expected_sum = expected_sum.saturating_add(v.counted);
            } else {
                prop_assert_eq!(v.counted, 0);
                prop_assert!(!v.capped);
            }
        }
        prop_assert_eq!(totals.counted_sum, expected_sum);
        prop_assert_eq!(totals.counted_estimates as usize, counted_authors.len());
        prop_assert_eq!(
            totals.capped_estimates as usize,
            state.estimates.iter().filter(|v| v.capped).count()
        );
    }

    #[test]
    fn any_permutation_gives_the_same_state((input, shuffled) in input_and_permutation()) {
        prop_assert_eq!(derive(&input), derive(&shuffled));
    }

    #[test]
    fn history_is_a_valid_walk_through_the_stages(input in proposal_input()) {
        let state = derive(&input);
        prop_assert_eq!(
            state.history.len() + state.rejected.len(),
            input.statuses.len()
        );
        let mut stage = Stage::Proposed;
        let mut last_key = None;
        for record in &state.history {
            prop_assert!(stage.can_move_to(record.update.stage()));
            let project = input.subject.project();
            prop_assert!(project.is_some_and(|p| p.has_authority(&record.author)));
            let key = (record.created_at, record.uri.clone());
            prop_assert!(last_key.as_ref() < Some(&key));
            last_key = Some(key);
            stage = record.update.stage();
        }
        prop_assert_eq!(state.stage, stage);
        if let StageUpdate::Release { source_url, .. } = &state.history.last().map_or(decline(), |r| r.update.clone()) {
            prop_assert!(is_public_web_url(source_url));
        }
    }

    #[test]
    fn a_new_author_never_lowers_the_total_before_the_freeze(
        input in proposal_input(),
        amount in amount(),
        currency in currency(),
        offset in 0i64..1_000,
    ) {
        let before = derive(&input);
        // Any time up to and including the start of the preview is before the freeze.
        let at = match before.preview_started_at {
            Some(start) => Timestamp(start.0.saturating_sub(offset)),
            None => t(offset),
        };
        let mut grown = input.clone();
        grown.estimates.push(estimate_in("did:plc:newcomer", "e1", amount, currency, at));
        let after = derive(&grown);
        prop_assert!(after.totals.counted_sum >= before.totals.counted_sum);
        prop_assert!(after.totals.counted_estimates >= before.totals.counted_estimates);
        if currency == before.currency && amount >= 0 {
            prop_assert_eq!(
                after.totals.counted_sum,
                before
                    .totals
                    .counted_sum
                    .saturating_add(amount.min(newcomer_floor(currency)))
            );
        }
    }

    #[test]
    fn estimate_cap_is_at_least_the_newcomer_cap_and_twice_the_largest(
        largest in any::<Option<i64>>(),
        currency in currency(),
    ) {
        let cap = estimate_cap(largest, currency);
        prop_assert!(cap >= newcomer_floor(currency));
        prop_assert!(cap > 0);
        if let Some(l) = largest {
            prop_assert!(cap >= l.saturating_mul(2));
        }
    }
}
