//! One test per funding rule.

mod fixture;

use fixture::*;
use greenlight_funding::*;

fn reasons(state: &ProposalState) -> Vec<RejectReason> {
    state.rejected.iter().map(|r| r.reason.clone()).collect()
}

fn verdict<'a>(state: &'a ProposalState, uri_suffix: &str) -> &'a EstimateVerdict {
    state
        .estimates
        .iter()
        .find(|v| v.record.uri.ends_with(uri_suffix))
        .unwrap()
}

// ---- authority -------------------------------------------------------------------------

#[test]
fn owner_and_listed_maintainer_may_post_status() {
    let state = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(MAINTAINER, "b", t(2), preview(t(50))),
    ]));
    assert_eq!(state.stage, Stage::Preview);
    assert_eq!(state.history.len(), 2);
    assert!(state.rejected.is_empty());
}

#[test]
fn status_by_anyone_else_is_rejected_and_changes_nothing() {
    let state = derive(&with_statuses(vec![status(
        STRANGER,
        "a",
        t(1),
        dev(5_000),
    )]));
    assert_eq!(state.stage, Stage::Proposed);
    assert_eq!(state.goal, None);
    assert_eq!(reasons(&state), vec![RejectReason::NotMaintainer]);
}

#[test]
fn an_invited_maintainer_counts_only_after_accepting() {
    let statuses = vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(MAINTAINER, "b", t(2), preview(t(50))),
    ];
    let mut input = with_statuses(statuses);
    let ProposalSubject::Project(project) = &mut input.subject else {
        unreachable!()
    };
    project.accepted.clear();
    let state = derive(&input);
    assert_eq!(state.stage, Stage::Development);
    assert_eq!(reasons(&state), vec![RejectReason::MaintainerNotAccepted]);

    // Accepting without being listed is no authority either: a stranger cannot join.
    let ProposalSubject::Project(project) = &mut input.subject else {
        unreachable!()
    };
    project.maintainers.clear();
    project.accepted = vec![MAINTAINER.into()];
    assert_eq!(reasons(&derive(&input)), vec![RejectReason::NotMaintainer]);

    let ProposalSubject::Project(project) = &mut input.subject else {
        unreachable!()
    };
    project.maintainers = vec![MAINTAINER.into()];
    let state = derive(&input);
    assert_eq!(state.stage, Stage::Preview);
    assert!(state.rejected.is_empty());
}

#[test]
fn repository_proposal_has_no_project_so_no_status_counts() {
    let mut input = with_statuses(vec![status(OWNER, "a", t(1), dev(5_000))]);
    input.subject = ProposalSubject::Repository {
        url: "https://github.com/example/tool".into(),
    };
    let state = derive(&input);
    assert_eq!(state.stage, Stage::Proposed);
    assert_eq!(reasons(&state), vec![RejectReason::NoProject]);

    input.subject = ProposalSubject::UnknownProject;
    assert_eq!(
        reasons(&derive(&input)),
        vec![RejectReason::ProjectUnavailable]
    );
}

// ---- order -----------------------------------------------------------------------------

#[test]
fn preview_before_development_skips_a_stage() {
    let state = derive(&with_statuses(vec![status(
        OWNER,
        "a",
        t(1),
        preview(t(50)),
    )]));
    assert_eq!(state.stage, Stage::Proposed);
    assert_eq!(
        reasons(&state),
        vec![RejectReason::SkipsStage {
            from: Stage::Proposed,
            to: Stage::Preview
        }]
    );
}

#[test]
fn release_before_preview_skips_a_stage() {
    let state = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(OWNER, "b", t(2), release("https://github.com/example/tool")),
    ]));
    assert_eq!(state.stage, Stage::Development);
    assert_eq!(
        reasons(&state),
        vec![RejectReason::SkipsStage {
            from: Stage::Development,
            to: Stage::Released
        }]
    );
}

#[test]
fn development_after_preview_moves_backwards() {
    let state = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(OWNER, "b", t(2), preview(t(50))),
        status(OWNER, "c", t(3), dev(9_000)),
    ]));
    assert_eq!(state.stage, Stage::Preview);
    assert_eq!(state.goal, Some(5_000));
    assert_eq!(
        reasons(&state),
        vec![RejectReason::MovesBackwards {
            from: Stage::Preview,
            to: Stage::Development
        }]
    );
}

#[test]
fn nothing_follows_a_release_or_a_decline() {
    let state = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(OWNER, "b", t(2), preview(t(50))),
        status(OWNER, "c", t(3), release("https://github.com/example/tool")),
        status(
            OWNER,
            "d",
            t(4),
            release("https://github.com/example/tool2"),
        ),
        status(OWNER, "e", t(5), decline()),
    ]));
    assert_eq!(state.stage, Stage::Released);
    let after_final = RejectReason::AfterFinal {
        stage: Stage::Released,
    };
    assert_eq!(reasons(&state), vec![after_final.clone(), after_final]);

    let state = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(OWNER, "b", t(2), decline()),
        status(OWNER, "c", t(3), dev(6_000)),
    ]));
    assert_eq!(state.stage, Stage::Declined);
    assert_eq!(
        reasons(&state),
        vec![RejectReason::AfterFinal {
            stage: Stage::Declined
        }]
    );
}

#[test]
fn repeated_development_updates_the_goal_later_one_wins() {
    let state = derive(&with_statuses(vec![
        status(OWNER, "b", t(2), dev(8_000)),
        status(OWNER, "a", t(1), dev(5_000)),
    ]));
    assert_eq!(state.stage, Stage::Development);
    assert_eq!(state.goal, Some(8_000));
    assert_eq!(state.history.len(), 2);
    assert_eq!(state.current_status().unwrap().created_at, t(2));
}

#[test]
fn repeated_preview_extends_it_but_keeps_its_start() {
    let state = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(OWNER, "b", t(10), preview(t(50))),
        status(OWNER, "c", t(20), preview(t(90))),
    ]));
    assert_eq!(state.stage, Stage::Preview);
    assert_eq!(state.preview_started_at, Some(t(10)));
    assert_eq!(state.preview_ends_at, Some(t(90)));
    assert!(state.rejected.is_empty());
}

#[test]
fn repeated_preview_may_not_shorten_it() {
    let state = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(OWNER, "b", t(10), preview(t(90))),
        status(OWNER, "c", t(20), preview(t(50))),
    ]));
    assert_eq!(state.preview_ends_at, Some(t(90)));
    assert_eq!(
        reasons(&state),
        vec![RejectReason::ShortensPreview {
            current_end: t(90),
            new_end: t(50)
        }]
    );
}

#[test]
fn preview_must_end_after_it_starts() {
    let state = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(OWNER, "b", t(10), preview(t(10))),
    ]));
    assert_eq!(state.stage, Stage::Development);
    assert_eq!(
        reasons(&state),
        vec![RejectReason::PreviewEndsBeforeStart {
            starts_at: t(10),
            ends_at: t(10)
        }]
    );
}

#[test]
fn preview_needs_a_web_url() {
    let state = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(
            OWNER,
            "b",
            t(10),
            StageUpdate::Preview {
                url: "javascript:alert(1)".into(),
                instructions: String::new(),
                ends_at: t(50),
            },
        ),
    ]));
    assert_eq!(reasons(&state), vec![RejectReason::InvalidPreviewUrl]);
}

#[test]
fn decline_from_development_and_from_preview_but_not_from_proposed() {
    let from_dev = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(OWNER, "b", t(2), decline()),
    ]));
    assert_eq!(from_dev.stage, Stage::Declined);

    let from_preview = derive(&with_statuses(vec![
        status(OWNER, "a", t(1), dev(5_000)),
        status(OWNER, "b", t(2), preview(t(50))),
        status(MAINTAINER, "c", t(3), decline()),
    ]));
    assert_eq!(from_preview.stage, Stage::Declined);
    assert!(from_preview.rejected.is_empty());

    let from_proposed = derive(&with_statuses(vec![status(OWNER, "a", t(1), decline())]));
    assert_eq!(from_proposed.stage, Stage::Proposed);
    assert_eq!(
        reasons(&from_proposed),
        vec![RejectReason::SkipsStage {
            from: Stage::Proposed,
            to: Stage::Declined
        }]
    );
}

#[test]
fn release_needs_a_public_source_url() {
    let lifecycle = |url: &str| {
        derive(&with_statuses(vec![
            status(OWNER, "a", t(1), dev(5_000)),
            status(OWNER, "b", t(2), preview(t(50))),
            status(OWNER, "c", t(3), release(url)),
        ]))
    };
    for bad in [
        "",
        "   ",
        "github.com/example/tool",
        "ftp://example.com/tool.tar.gz",
        "https://",
        "https:// github.com/x",
        "https://user:secret@github.com/example/tool",
    ] {
        let state = lifecycle(bad);
        assert_eq!(state.stage, Stage::Preview, "{bad:?} was accepted");
        assert_eq!(reasons(&state), vec![RejectReason::InvalidSourceUrl]);
    }
    for good in [
        "https://github.com/example/tool",
        "HTTPS://codeberg.org/example/tool/src/tag/v1",
        "http://localhost:3000/repo",
    ] {
        assert_eq!(lifecycle(good).stage, Stage::Released, "{good:?} rejected");
    }
}

#[test]
fn development_goal_must_be_in_project_currency() {
    let state = derive(&with_statuses(vec![status(
        OWNER,
        "a",
        t(1),
        dev_in(5_000, eur()),
    )]));
    assert_eq!(state.stage, Stage::Proposed);
    assert_eq!(
        reasons(&state),
        vec![RejectReason::CurrencyMismatch {
            expected: Currency::USD,
            found: eur()
        }]
    );
}

#[test]
fn development_goal_must_be_positive() {
    let state = derive(&with_statuses(vec![status(OWNER, "a", t(1), dev(0))]));
    assert_eq!(
        reasons(&state),
        vec![RejectReason::NonPositiveGoal { goal: 0 }]
    );
}

#[test]
fn statuses_apply_by_created_at_then_uri_whatever_the_arrival_order() {
    // Same createdAt: the URI decides, so "a" (a preview) is considered before "b".
    let records = vec![
        status(OWNER, "b", t(5), dev(5_000)),
        status(OWNER, "a", t(5), preview(t(50))),
        status(OWNER, "c", t(6), preview(t(60))),
    ];
    let mut reversed = records.clone();
    reversed.reverse();
    let state = derive(&with_statuses(records));
    assert_eq!(state, derive(&with_statuses(reversed)));
    assert_eq!(
        reasons(&state),
        vec![RejectReason::SkipsStage {
            from: Stage::Proposed,
            to: Stage::Preview
        }]
    );
    assert_eq!(state.stage, Stage::Preview);
    assert_eq!(state.preview_started_at, Some(t(6)));
}

#[test]
fn repeated_status_uri_is_considered_once() {
    let first = status(OWNER, "a", t(1), dev(5_000));
    let mut copy = first.clone();
    copy.update = dev(9_000);
    let state = derive(&with_statuses(vec![copy, first]));
    assert_eq!(state.goal, Some(5_000));
    assert_eq!(reasons(&state), vec![RejectReason::DuplicateUri]);
}

#[test]
fn stage_moves_table() {
    use Stage::*;
    let allowed = [
        (Proposed, Development),
        (Development, Development),
        (Development, Preview),
        (Development, Declined),
        (Preview, Preview),
        (Preview, Released),
        (Preview, Declined),
    ];
    for from in Stage::ALL {
        for to in Stage::ALL {
            assert_eq!(
                from.can_move_to(to),
                allowed.contains(&(from, to)),
                "{from} -> {to}"
            );
        }
    }
    assert!(matches!(
        Released.check_move(Preview),
        Err(RejectReason::AfterFinal { stage: Released })
    ));
}

// ---- estimates -------------------------------------------------------------------------

#[test]
fn estimate_cap_formula() {
    let usd = Currency::USD;
    assert_eq!(estimate_cap(None, usd), 2_500);
    assert_eq!(estimate_cap(Some(0), usd), 2_500);
    assert_eq!(estimate_cap(Some(-7), usd), 2_500);
    assert_eq!(estimate_cap(Some(1_250), usd), 2_500);
    assert_eq!(estimate_cap(Some(1_251), usd), 2_502);
    assert_eq!(estimate_cap(Some(40_000), usd), 80_000);
    assert_eq!(estimate_cap(Some(i64::MAX), usd), i64::MAX);
}

#[test]
fn estimate_cap_floor_is_the_currencys_own_in_its_minor_units() {
    let cur = |code: &str| Currency::parse(code).unwrap();
    // 25.00 USD and EUR, 20.00 GBP, 4 000 yen (not 25 yen), 35 000 won, 10.000 dinars.
    assert_eq!(estimate_cap(None, eur()), 2_500);
    assert_eq!(estimate_cap(None, cur("GBP")), 2_000);
    assert_eq!(estimate_cap(None, cur("JPY")), 4_000);
    assert_eq!(estimate_cap(None, cur("KRW")), 35_000);
    assert_eq!(estimate_cap(None, cur("BHD")), 10_000);
    // Twice the largest contribution still wins once it passes the floor, in minor units.
    assert_eq!(estimate_cap(Some(1_999), cur("JPY")), 4_000);
    assert_eq!(estimate_cap(Some(2_001), cur("JPY")), 4_002);
    assert_eq!(estimate_cap(Some(6_000), cur("BHD")), 12_000);
    assert_eq!(estimate_cap(Some(i64::MAX), cur("KRW")), i64::MAX);
    for info in CurrencyInfo::all() {
        let floor = info.newcomer_floor_minor();
        assert_eq!(
            estimate_cap(None, info.currency),
            floor,
            "{}",
            info.currency
        );
        assert_eq!(
            estimate_cap(Some(floor / 2 + 1), info.currency),
            (floor / 2 + 1) * 2,
            "{}",
            info.currency
        );
    }
}

#[test]
fn estimate_cap_of_a_currency_not_in_the_table_is_total() {
    // Only derive() gives such a currency a cap (the indexer drops its records); it is the old
    // uniform 2 500 minor units, never a panic.
    let unknown = Currency::parse("XYZ").unwrap();
    assert!(!unknown.supported());
    assert_eq!(estimate_cap(None, unknown), 2_500);
    assert_eq!(estimate_cap(Some(5_000), unknown), 10_000);
    assert_eq!(estimate_cap(Some(i64::MIN), unknown), 2_500);
}

#[test]
fn a_yen_newcomer_is_capped_at_4000_yen_not_25() {
    let jpy = Currency::parse("JPY").unwrap();
    let mut input = with_estimates(
        vec![
            estimate_in("did:plc:new", "e1", 10_000, jpy, t(1)),
            estimate_in("did:plc:small", "e1", 3_000, jpy, t(1)),
            estimate_in("did:plc:backer", "e1", 50_000, jpy, t(1)),
        ],
        vec![contribution("did:plc:backer", jpy, 9_000)],
    );
    if let ProposalSubject::Project(project) = &mut input.subject {
        project.currency = jpy;
    }
    let state = derive(&input);
    let new = verdict(&state, "did:plc:new/fund.greenlight.estimate/e1");
    assert_eq!((new.cap, new.counted, new.capped), (4_000, 4_000, true));
    let small = verdict(&state, "did:plc:small/fund.greenlight.estimate/e1");
    assert_eq!(
        (small.cap, small.counted, small.capped),
        (4_000, 3_000, false)
    );
    let backer = verdict(&state, "did:plc:backer/fund.greenlight.estimate/e1");
    assert_eq!(
        (backer.cap, backer.counted, backer.capped),
        (18_000, 18_000, true)
    );
    assert_eq!(state.totals.counted_sum, 4_000 + 3_000 + 18_000);
    assert_eq!(state.totals.capped_estimates, 2);
}

#[test]
fn a_dinar_newcomer_is_capped_at_10_dinars_in_fils() {
    let bhd = Currency::parse("BHD").unwrap();
    let mut input = with_estimates(
        vec![estimate_in("did:plc:new", "e1", 25_000, bhd, t(1))],
        vec![],
    );
    if let ProposalSubject::Project(project) = &mut input.subject {
        project.currency = bhd;
    }
    let state = derive(&input);
    assert_eq!(state.totals.counted_sum, 10_000);
    assert!(state.estimates[0].capped);
}

#[test]
fn newcomer_estimate_counts_at_most_25_00() {
    let state = derive(&with_estimates(
        vec![estimate("did:plc:new", "e1", 10_000, t(1))],
        vec![],
    ));
    let v = &state.estimates[0];
    assert_eq!((v.cap, v.counted, v.capped), (2_500, 2_500, true));
    assert_eq!(state.totals.counted_sum, 2_500);
    assert_eq!(state.totals.capped_estimates, 1);
}

#[test]
fn estimate_exactly_at_cap_is_not_marked_capped() {
    let state = derive(&with_estimates(
        vec![
            estimate("did:plc:a", "e1", 2_500, t(1)),
            estimate("did:plc:b", "e1", 7_999, t(1)),
            estimate("did:plc:c", "e1", 8_000, t(1)),
        ],
        vec![
            contribution("did:plc:b", Currency::USD, 4_000),
            contribution("did:plc:c", Currency::USD, 4_000),
        ],
    ));
    for v in &state.estimates {
        assert!(!v.capped, "{} marked capped", v.record.uri);
        assert_eq!(v.counted, v.record.amount);
    }
    assert_eq!(state.totals.capped_estimates, 0);
    assert_eq!(state.totals.counted_sum, 2_500 + 7_999 + 8_000);
}

#[test]
fn cap_is_twice_the_largest_contribution_in_that_currency() {
    let backer = "did:plc:backer";
    let state = derive(&with_estimates(
        vec![estimate(backer, "e1", 50_000, t(1))],
        vec![
            contribution(backer, Currency::USD, 3_000),
            contribution(backer, Currency::USD, 12_000),
            // A larger contribution in another currency does not raise the USD cap.
            contribution(backer, eur(), 1_000_000),
            // Someone else's contribution is not the backer's.
            contribution(STRANGER, Currency::USD, 1_000_000),
        ],
    ));
    let v = &state.estimates[0];
    assert_eq!((v.cap, v.counted, v.capped), (24_000, 24_000, true));
    assert_eq!(state.totals.counted_sum, 24_000);
}

#[test]
fn latest_estimate_per_author_wins() {
    let state = derive(&with_estimates(
        vec![
            estimate("did:plc:a", "e2", 2_000, t(2)),
            estimate("did:plc:a", "e1", 1_000, t(1)),
            estimate("did:plc:b", "e1", 500, t(1)),
        ],
        vec![],
    ));
    assert_eq!(state.totals.counted_sum, 2_500);
    assert_eq!(state.totals.counted_estimates, 2);
    assert_eq!(state.totals.shown_estimates, 3);
    let old = state
        .estimates
        .iter()
        .find(|v| v.record.author == "did:plc:a" && v.record.amount == 1_000)
        .unwrap();
    assert!(old.is_superseded());
    assert_eq!(
        old.exclusions,
        vec![Exclusion::Superseded {
            by: "at://did:plc:a/fund.greenlight.estimate/e2".into()
        }]
    );
}

#[test]
fn latest_wins_tie_on_created_at_goes_to_the_greater_uri() {
    let records = vec![
        estimate("did:plc:a", "3kaaaaaaaaab", 2_000, t(5)),
        estimate("did:plc:a", "3kaaaaaaaaaa", 1_000, t(5)),
    ];
    let state = derive(&with_estimates(records.clone(), vec![]));
    assert_eq!(state.totals.counted_sum, 2_000);
    assert!(verdict(&state, "3kaaaaaaaaaa").is_superseded());
    let mut reversed = records;
    reversed.reverse();
    assert_eq!(state, derive(&with_estimates(reversed, vec![])));
}

#[test]
fn deleting_an_estimate_leaves_exactly_the_records_that_remain() {
    let old = estimate("did:plc:a", "e1", 1_000, t(1));
    let new = estimate("did:plc:a", "e2", 2_000, t(2));
    let both = derive(&with_estimates(vec![old.clone(), new.clone()], vec![]));
    assert_eq!(both.totals.counted_sum, 2_000);

    // Only the newest is deleted: nothing remembers it, and the older record (still in the
    // author's repository) is the author's estimate again.
    let newest_deleted = derive(&with_estimates(vec![old.clone()], vec![]));
    assert_eq!(newest_deleted.totals.counted_sum, 1_000);
    assert!(newest_deleted.estimates[0].is_counted());

    // The author's only estimate is deleted: nothing older comes back.
    let only = derive(&with_estimates(
        vec![new, estimate("did:plc:b", "e1", 700, t(1))],
        vec![],
    ));
    assert_eq!(only.totals.counted_sum, 2_700);
    let deleted = derive(&with_estimates(
        vec![estimate("did:plc:b", "e1", 700, t(1))],
        vec![],
    ));
    assert_eq!(deleted.totals.counted_sum, 700);
    assert_eq!(deleted.totals.counted_estimates, 1);
    assert!(deleted
        .estimates
        .iter()
        .all(|v| v.record.author != "did:plc:a"));
}

#[test]
fn estimates_after_the_preview_began_are_frozen() {
    let state = derive(&in_preview(vec![
        estimate("did:plc:before", "e1", 1_000, t(99)),
        estimate("did:plc:at", "e1", 1_100, t(100)),
        estimate("did:plc:after", "e1", 1_200, Timestamp(t(100).0 + 1)),
    ]));
    assert_eq!(state.preview_started_at, Some(t(100)));
    assert!(verdict(&state, "did:plc:before/fund.greenlight.estimate/e1").is_counted());
    // Created exactly when the preview began: not "after", so it counts.
    assert!(verdict(&state, "did:plc:at/fund.greenlight.estimate/e1").is_counted());
    let after = verdict(&state, "did:plc:after/fund.greenlight.estimate/e1");
    assert_eq!(
        after.exclusions,
        vec![Exclusion::Frozen {
            preview_started_at: t(100)
        }]
    );
    assert_eq!(after.counted, 0);
    assert_eq!(state.totals.counted_sum, 2_100);
    assert_eq!(state.totals.shown_estimates, 3);
}

#[test]
fn change_of_mind_during_preview_keeps_the_pre_preview_estimate() {
    let state = derive(&in_preview(vec![
        estimate("did:plc:a", "e1", 1_000, t(50)),
        estimate("did:plc:a", "e2", 2_000, t(150)),
    ]));
    let before = verdict(&state, "e1");
    let during = verdict(&state, "e2");
    assert!(before.is_counted() && !before.is_superseded());
    assert!(during.is_frozen() && !during.is_superseded());
    assert_eq!(state.totals.counted_sum, 1_000);
}

#[test]
fn extending_the_preview_does_not_move_the_freeze() {
    let mut input = in_preview(vec![estimate("did:plc:a", "e1", 1_000, t(150))]);
    input
        .statuses
        .push(status(OWNER, "s3", t(200), preview(t(2_000))));
    let state = derive(&input);
    assert_eq!(state.preview_started_at, Some(t(100)));
    assert!(state.estimates[0].is_frozen());
}

#[test]
fn estimate_in_another_currency_is_shown_not_counted() {
    let state = derive(&with_estimates(
        vec![
            estimate_in("did:plc:a", "e1", 1_000, eur(), t(1)),
            estimate("did:plc:b", "e1", 900, t(1)),
        ],
        vec![],
    ));
    let v = verdict(&state, "did:plc:a/fund.greenlight.estimate/e1");
    assert!(v.is_wrong_currency() && !v.is_counted());
    assert_eq!(
        v.exclusions,
        vec![Exclusion::WrongCurrency {
            expected: Currency::USD,
            found: eur()
        }]
    );
    assert_eq!(state.totals.counted_sum, 900);
    assert_eq!(state.totals.shown_estimates, 2);
}

#[test]
fn newest_estimate_in_wrong_currency_still_supersedes_the_older_one() {
    let state = derive(&with_estimates(
        vec![
            estimate("did:plc:a", "e1", 1_000, t(1)),
            estimate_in("did:plc:a", "e2", 1_000, eur(), t(2)),
        ],
        vec![],
    ));
    assert!(verdict(&state, "e1").is_superseded());
    assert!(verdict(&state, "e2").is_wrong_currency());
    assert_eq!(state.totals.counted_sum, 0);
    assert_eq!(state.totals.counted_estimates, 0);
}

#[test]
fn repository_proposal_counts_in_usd() {
    let input = ProposalInput {
        subject: ProposalSubject::Repository {
            url: "https://github.com/example/tool".into(),
        },
        statuses: vec![],
        estimates: vec![
            estimate("did:plc:a", "e1", 1_000, t(1)),
            estimate_in("did:plc:b", "e1", 1_000, eur(), t(1)),
        ],
        contributions: vec![],
    };
    let state = derive(&input);
    assert_eq!(state.currency, Currency::USD);
    assert_eq!(state.totals.currency, Currency::USD);
    assert_eq!(state.totals.counted_sum, 1_000);
}

#[test]
fn project_currency_decides_what_counts() {
    let mut input = with_estimates(
        vec![
            estimate("did:plc:a", "e1", 1_000, t(1)),
            estimate_in("did:plc:b", "e1", 3_000, eur(), t(1)),
        ],
        vec![contribution("did:plc:b", eur(), 5_000)],
    );
    if let ProposalSubject::Project(project) = &mut input.subject {
        project.currency = eur();
    }
    let state = derive(&input);
    assert_eq!(state.totals.counted_sum, 3_000);
    assert!(verdict(&state, "did:plc:a/fund.greenlight.estimate/e1").is_wrong_currency());
}

#[test]
fn negative_amount_counts_nothing() {
    let state = derive(&with_estimates(
        vec![estimate("did:plc:a", "e1", -5_000, t(1))],
        vec![],
    ));
    assert_eq!(
        state.estimates[0].exclusions,
        vec![Exclusion::NegativeAmount]
    );
    assert_eq!(state.totals.counted_sum, 0);
}

#[test]
fn zero_amount_counts_as_zero() {
    let state = derive(&with_estimates(
        vec![
            estimate("did:plc:a", "e1", 1_000, t(1)),
            estimate("did:plc:a", "e2", 0, t(2)),
        ],
        vec![],
    ));
    assert_eq!(state.totals.counted_sum, 0);
    assert_eq!(state.totals.counted_estimates, 1);
}

#[test]
fn repeated_estimate_uri_is_considered_once() {
    let e = estimate("did:plc:a", "e1", 1_000, t(1));
    let mut copy = e.clone();
    copy.amount = 2_000;
    let state = derive(&with_estimates(vec![copy, e], vec![]));
    assert_eq!(state.totals.counted_sum, 1_000);
    assert_eq!(state.estimates[1].exclusions, vec![Exclusion::DuplicateUri]);
}

#[test]
fn huge_amounts_saturate_instead_of_overflowing() {
    let whales = ["did:plc:w1", "did:plc:w2", "did:plc:w3"];
    let state = derive(&with_estimates(
        whales
            .iter()
            .map(|w| estimate(w, "e1", i64::MAX, t(1)))
            .collect(),
        whales
            .iter()
            .map(|w| contribution(w, Currency::USD, i64::MAX))
            .collect(),
    ));
    assert_eq!(state.totals.counted_sum, i64::MAX);
    assert_eq!(state.totals.counted_estimates, 3);
    assert!(state
        .estimates
        .iter()
        .all(|v| v.counted == i64::MAX && !v.capped));
}

// ---- representation --------------------------------------------------------------------

#[test]
fn currency_codes_are_exact() {
    assert_eq!(Currency::parse("USD").unwrap(), Currency::USD);
    for bad in ["usd", "US", "USDT", "", "U$D", "ÜSD"] {
        assert!(Currency::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn state_serialises_with_camel_case_names_and_tags() {
    let mut input = in_preview(vec![estimate("did:plc:a", "e1", 3_000, t(1))]);
    input.statuses.push(status(STRANGER, "x", t(5), decline()));
    let state = derive(&input);
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(json["stage"], "preview");
    assert_eq!(json["currency"], "USD");
    assert_eq!(json["previewStartedAt"], 100_000_000);
    assert_eq!(json["rejected"][0]["reason"]["kind"], "notMaintainer");
    assert_eq!(json["history"][0]["update"]["kind"], "development");
    assert_eq!(json["estimates"][0]["capped"], true);
    assert_eq!(json["estimates"][0]["createdAt"], 1_000_000);
    assert_eq!(json["totals"]["countedSum"], 2_500);
    let back: ProposalState = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);
}

#[test]
fn reject_reasons_read_well() {
    let reason = RejectReason::SkipsStage {
        from: Stage::Development,
        to: Stage::Released,
    };
    assert_eq!(
        reason.to_string(),
        "cannot move from development to released: that skips a stage"
    );
}
