//! Retainer offers: who may sell them and which tiers are valid.

use greenlight_funding::retainer_offer::{may_offer_for, same_repository, tier_name_key};
use greenlight_funding::*;
use proptest::prelude::*;

const OWNER: &str = "did:plc:owner";
const MAINTAINER: &str = "did:plc:maintainer";
const INVITED: &str = "did:plc:invited";
const STRANGER: &str = "did:plc:stranger";
const PROJECT: &str = "at://did:plc:owner/fund.greenlight.project/age";
const REPOSITORY: &str = "https://github.com/FiloSottile/age";

fn project() -> ProjectRecord {
    ProjectRecord {
        owner: OWNER.into(),
        maintainers: vec![MAINTAINER.into(), INVITED.into()],
        // A DID that accepted without being listed gains nothing.
        accepted: vec![MAINTAINER.into(), STRANGER.into()],
        currency: Currency::USD,
    }
}

fn covered(verified: bool) -> CoveredProject {
    CoveredProject::Known {
        uri: PROJECT.into(),
        record: project(),
        repository: REPOSITORY.into(),
        verified,
    }
}

fn tier(name: &str, amount: i64) -> TierRecord {
    TierRecord {
        name: name.into(),
        amount,
        currency: Currency::USD,
        period: "month".into(),
        included: Included {
            risk_mitigation: true,
            reciprocal_access: amount >= 500_000,
            advisory: amount >= 1_500_000,
        },
        seat_limit: None,
    }
}

fn three_tiers() -> Vec<TierRecord> {
    vec![
        tier("Supporter", 100_000),
        tier("Partner", 500_000),
        TierRecord {
            seat_limit: Some(3),
            ..tier("Advisor", 1_500_000)
        },
    ]
}

fn offer(author: &str) -> OfferInput {
    OfferInput {
        author: author.into(),
        projects: vec![covered(true)],
        repositories: vec![REPOSITORY.into()],
        tiers: three_tiers(),
    }
}

#[test]
fn the_owner_and_a_consenting_maintainer_of_a_verified_project_may_sell() {
    for author in [OWNER, MAINTAINER] {
        let verdict = check_offer(&offer(author));
        assert!(verdict.is_sellable(), "{author}: {verdict:?}");
        assert_eq!(verdict.tiers.len(), 3);
        assert_eq!(verdict.currency(), Some(Currency::USD));
        assert_eq!(verdict.tier("partner").unwrap().amount, 500_000);
        assert_eq!(verdict.tier(" ADVISOR ").unwrap().seat_limit, Some(3));
        assert_eq!(verdict.tier("Gold"), None);
    }
}

#[test]
fn anyone_else_or_an_unverified_project_may_not() {
    let cases = [
        (
            INVITED,
            true,
            AuthorityProblem::MaintainerNotAccepted {
                uri: PROJECT.into(),
            },
        ),
        (
            STRANGER,
            true,
            AuthorityProblem::NotAMaintainer {
                uri: PROJECT.into(),
            },
        ),
        (
            OWNER,
            false,
            AuthorityProblem::NotVerified {
                uri: PROJECT.into(),
            },
        ),
        (
            MAINTAINER,
            false,
            AuthorityProblem::NotVerified {
                uri: PROJECT.into(),
            },
        ),
    ];
    for (author, verified, problem) in cases {
        assert_eq!(
            may_offer_for(author, PROJECT, &project(), verified),
            Err(problem.clone())
        );
        let verdict = check_offer(&OfferInput {
            projects: vec![covered(verified)],
            ..offer(author)
        });
        assert!(!verdict.is_sellable());
        assert_eq!(verdict.authority_problems, vec![problem]);
        // The tiers are fine; only the authority is not.
        assert!(verdict.tier_problems.is_empty());
    }
}

#[test]
fn what_an_offer_covers_must_be_proven() {
    let unknown = "at://did:plc:other/fund.greenlight.project/x";
    let verdict = check_offer(&OfferInput {
        projects: vec![
            covered(true),
            covered(true),
            CoveredProject::Unknown {
                uri: unknown.into(),
            },
        ],
        repositories: vec![
            "https://GitHub.com/FiloSottile/age.git/".into(),
            "https://github.com/golang/go".into(),
        ],
        ..offer(OWNER)
    });
    assert_eq!(
        verdict.authority_problems,
        vec![
            AuthorityProblem::DuplicateProject {
                uri: PROJECT.into()
            },
            AuthorityProblem::UnknownProject {
                uri: unknown.into()
            },
            AuthorityProblem::RepositoryNotCovered {
                url: "https://github.com/golang/go".into()
            },
        ]
    );
    let nothing = check_offer(&OfferInput {
        projects: vec![],
        repositories: vec![REPOSITORY.into()],
        ..offer(OWNER)
    });
    assert_eq!(
        nothing.authority_problems,
        vec![
            AuthorityProblem::NoProjects,
            AuthorityProblem::RepositoryNotCovered {
                url: REPOSITORY.into()
            }
        ]
    );
}

#[test]
fn repositories_match_only_up_to_case_of_the_host_and_a_trailing_slash_or_git() {
    assert!(same_repository(
        REPOSITORY,
        "https://github.com/FiloSottile/age/"
    ));
    assert!(same_repository(
        REPOSITORY,
        "HTTPS://GITHUB.COM/FiloSottile/age.git"
    ));
    assert!(!same_repository(
        REPOSITORY,
        "https://github.com/filosottile/age"
    ));
    assert!(!same_repository(
        REPOSITORY,
        "https://github.com/FiloSottile/age-fork"
    ));
    assert!(!same_repository(
        REPOSITORY,
        "https://gitlab.com/FiloSottile/age"
    ));
}

#[test]
fn every_tier_problem_is_reported() {
    let xyz = Currency::parse("XYZ").unwrap();
    let eur = Currency::parse("EUR").unwrap();
    let tiers = vec![
        tier("Basic", 100),
        tier("  ", 100),
        tier("BASIC", 100),
        tier("Free", 0),
        tier("Huge", 100_000_000_001),
        TierRecord {
            currency: xyz,
            ..tier("Odd", 100)
        },
        TierRecord {
            currency: eur,
            ..tier("Euro", 100)
        },
        TierRecord {
            period: "week".into(),
            ..tier("Weekly", 100)
        },
        TierRecord {
            seat_limit: Some(0),
            ..tier("Closed", 100)
        },
        TierRecord {
            seat_limit: Some(1_001),
            ..tier("Crowd", 100)
        },
        tier("Eleventh", 100),
    ];
    assert_eq!(
        validate_tiers(&tiers),
        Err(vec![
            TierProblem::TooManyTiers { count: 11 },
            TierProblem::EmptyName { index: 1 },
            TierProblem::DuplicateName { index: 2, first: 0 },
            TierProblem::NonPositivePrice { index: 3 },
            TierProblem::PriceTooHigh { index: 4 },
            TierProblem::UnsupportedCurrency {
                index: 5,
                currency: xyz
            },
            TierProblem::MixedCurrencies {
                index: 5,
                expected: Currency::USD,
                found: xyz
            },
            TierProblem::MixedCurrencies {
                index: 6,
                expected: Currency::USD,
                found: eur
            },
            TierProblem::UnknownPeriod {
                index: 7,
                period: "week".into()
            },
            TierProblem::SeatLimitOutOfRange { index: 8, limit: 0 },
            TierProblem::SeatLimitOutOfRange {
                index: 9,
                limit: 1_001
            },
        ])
    );
    assert_eq!(validate_tiers(&[]), Err(vec![TierProblem::NoTiers]));
    // Problems read as sentences.
    assert_eq!(
        TierProblem::DuplicateName { index: 2, first: 0 }.to_string(),
        "tier 2 has the same name as tier 0"
    );
}

#[test]
fn seats_fill_up_to_the_limit() {
    let tiers = validate_tiers(&three_tiers()).unwrap();
    assert!(tiers[0].has_seat(10_000));
    assert!(tiers[2].has_seat(2));
    assert!(!tiers[2].has_seat(3));
    assert!(!tiers[2].has_seat(4));
}

#[test]
fn tier_names_compare_trimmed_and_ignoring_case() {
    assert_eq!(tier_name_key("  Gold "), tier_name_key("gold"));
    assert_eq!(tier_name_key("ÉLITE"), tier_name_key("élite"));
    assert_ne!(tier_name_key("Gold"), tier_name_key("Golden"));
}

fn tier_record() -> impl Strategy<Value = TierRecord> {
    (
        prop_oneof![
            Just("A"),
            Just("a"),
            Just("B"),
            Just(" "),
            Just("Gold"),
            Just("")
        ],
        prop_oneof![
            Just(0i64),
            Just(-1),
            1i64..1_000_000,
            Just(i64::MAX),
            Just(100_000_000_000),
            Just(100_000_000_001)
        ],
        prop_oneof![Just("USD"), Just("EUR"), Just("XYZ")],
        prop_oneof![Just("month"), Just("year"), Just("Month"), Just("")],
        prop_oneof![
            Just(None),
            Just(Some(0i64)),
            Just(Some(1)),
            Just(Some(1_000)),
            Just(Some(1_001)),
            Just(Some(-5))
        ],
    )
        .prop_map(|(name, amount, currency, period, seat_limit)| TierRecord {
            name: name.into(),
            amount,
            currency: Currency::parse(currency).unwrap(),
            period: period.into(),
            included: Included::default(),
            seat_limit,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Valid means every rule holds; otherwise at least one problem is reported.
    #[test]
    fn validation_accepts_exactly_the_valid_tiers(tiers in prop::collection::vec(tier_record(), 0..12)) {
        let names: Vec<String> = tiers.iter().map(|t| tier_name_key(&t.name)).collect();
        let unique = names.iter().collect::<std::collections::BTreeSet<_>>().len() == names.len();
        let valid = !tiers.is_empty()
            && tiers.len() <= 10
            && unique
            && names.iter().all(|n| !n.is_empty())
            && tiers.iter().all(|t| {
                (1..=100_000_000_000).contains(&t.amount)
                    && t.currency.supported()
                    && t.currency == tiers[0].currency
                    && Period::parse(&t.period).is_some()
                    && t.seat_limit.is_none_or(|s| (1..=1_000).contains(&s))
            });
        match validate_tiers(&tiers) {
            Ok(valid_tiers) => {
                prop_assert!(valid);
                prop_assert_eq!(valid_tiers.len(), tiers.len());
                for (v, t) in valid_tiers.iter().zip(&tiers) {
                    prop_assert_eq!(&v.name, &t.name);
                    prop_assert_eq!(v.amount, t.amount);
                    prop_assert!(v.amount > 0);
                }
            }
            Err(problems) => {
                prop_assert!(!valid);
                prop_assert!(!problems.is_empty());
            }
        }
    }
}
