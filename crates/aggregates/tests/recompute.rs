//! The aggregates kept up to date batch by batch always equal a recomputation from scratch,
//! whatever records and ledger entries arrive, in whatever order, with deletions, account
//! hiding, subject changes and escrow state changes in between.

use std::collections::BTreeMap;

mod support;

use chrono::Duration;
use greenlight_aggregates::{apply_ledger_entries, rebuild_all, LedgerEntry};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn snapshot(pool: &PgPool) -> Vec<Value> {
    let mut out = Vec::new();
    for query in [
        "SELECT to_jsonb(t) - 'search' || jsonb_build_object('search', t.search::text)
         FROM appview.proposal_state t ORDER BY uri",
        "SELECT to_jsonb(t) FROM appview.estimate_state t ORDER BY uri",
        "SELECT to_jsonb(t) FROM appview.proposal_money t ORDER BY proposal",
        "SELECT to_jsonb(t) FROM appview.contribution t ORDER BY did, currency",
    ] {
        let rows: Vec<(Value,)> = sqlx::query_as(query).fetch_all(pool).await.unwrap();
        out.push(Value::Array(rows.into_iter().map(|(v,)| v).collect()));
    }
    out
}

async fn assert_matches_rebuild(pool: &PgPool, step: usize) {
    let incremental = snapshot(pool).await;
    let mut tx = pool.begin().await.unwrap();
    rebuild_all(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let rebuilt = snapshot(pool).await;
    assert_eq!(incremental, rebuilt, "after step {step}");
}

/// Applies a page of feed entries in one transaction, as the feed follower does, and notes in
/// `latest` what the stored state of each id must now be: its highest seq.
async fn flush(
    pool: &PgPool,
    page: &mut Vec<LedgerEntry>,
    latest: &mut BTreeMap<String, LedgerEntry>,
) {
    if page.is_empty() {
        return;
    }
    let mut tx = pool.begin().await.unwrap();
    apply_ledger_entries(&mut tx, page).await.unwrap();
    tx.commit().await.unwrap();
    for entry in page.drain(..) {
        if latest
            .get(&entry.id)
            .is_none_or(|seen| seen.seq < entry.seq)
        {
            latest.insert(entry.id.clone(), entry);
        }
    }
}

/// The stored entries are exactly the latest state of each id sent: a stale page re-read by
/// the follower never rolls one back (the recomputation reads the same table, so only this
/// comparison with the model would notice).
async fn assert_entries_are_the_latest(
    pool: &PgPool,
    latest: &BTreeMap<String, LedgerEntry>,
    step: usize,
) {
    let mut stored: Vec<(String, i64, String, i64, String)> =
        sqlx::query_as("SELECT id, seq, state, amount, currency FROM appview.escrow_entry")
            .fetch_all(pool)
            .await
            .unwrap();
    // Sorted here, not by the database's collation, to match the BTreeMap's byte order.
    stored.sort();
    let expected: Vec<(String, i64, String, i64, String)> = latest
        .values()
        .map(|e| {
            (
                e.id.clone(),
                e.seq,
                e.state.clone(),
                e.amount,
                e.currency.clone(),
            )
        })
        .collect();
    assert_eq!(stored, expected, "escrow entries after step {step}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn incremental_aggregates_equal_a_recomputation(pool: PgPool) {
    let owners = ["did:plc:owner0", "did:plc:owner1"];
    let people: Vec<String> = (0..8).map(|i| format!("did:plc:person{i}")).collect();
    let projects = [
        format!("at://{}/fund.greenlight.project/p0", owners[0]),
        format!("at://{}/fund.greenlight.project/p1", owners[1]),
    ];
    let proposals: Vec<String> = (0..6)
        .map(|i| {
            format!(
                "at://{}/fund.greenlight.proposal/{}",
                people[i % people.len()],
                tid(i as u64)
            )
        })
        .collect();
    // Three walks from different seeds, each continuing from where the previous one left.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut seq = 0i64;
    let mut estimates: Vec<String> = Vec::new();
    let mut statuses: Vec<String> = Vec::new();
    let mut page: Vec<LedgerEntry> = Vec::new();
    let mut sent: Vec<LedgerEntry> = Vec::new();
    let mut latest: BTreeMap<String, LedgerEntry> = BTreeMap::new();

    for step in 0..1200usize {
        if step % 400 == 0 {
            rng =
                Rng(0x2545_f491_4f6c_dd1d ^ (step as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        // Times go back and forth so that arrival order and createdAt order disagree.
        let t = at((step as i64 * 7919) % 1000);
        match rng.below(14) {
            0 => {
                let i = rng.below(2) as usize;
                let currency = if rng.below(3) == 0 { "EUR" } else { "USD" };
                let maintainers: Vec<&str> = if rng.below(2) == 0 {
                    vec![people[0].as_str()]
                } else {
                    vec![]
                };
                put(&pool, &projects[i], json!({
                    "name": "P", "description": "d", "repository": format!("https://example.com/{i}"),
                    "currency": currency, "maintainers": maintainers, "createdAt": stamp(t),
                })).await;
            }
            1 => {
                let p = &proposals[rng.below(proposals.len() as u64) as usize];
                let subject = if rng.below(4) == 0 {
                    json!({ "$type": "fund.greenlight.proposal#repository", "url": "https://example.org/r" })
                } else {
                    json!({ "$type": "com.atproto.repo.strongRef", "uri": projects[rng.below(2) as usize], "cid": CID })
                };
                put(&pool, p, json!({
                    "subject": subject, "title": format!("Feature {step}"), "body": "b", "createdAt": stamp(t),
                })).await;
            }
            2..=5 => {
                let author = &people[rng.below(people.len() as u64) as usize];
                let uri = if rng.below(3) == 0 && !estimates.is_empty() {
                    // An edit of an existing estimate, possibly to another proposal.
                    estimates[rng.below(estimates.len() as u64) as usize].clone()
                } else {
                    format!(
                        "at://{author}/fund.greenlight.estimate/{}",
                        tid(step as u64)
                    )
                };
                let p = &proposals[rng.below(proposals.len() as u64) as usize];
                let amount = 1 + rng.below(20_000) as i64;
                let currency = if rng.below(6) == 0 { "EUR" } else { "USD" };
                put(&pool, &uri, json!({
                    "subject": { "uri": p, "cid": CID }, "amount": amount, "currency": currency, "createdAt": stamp(t),
                })).await;
                estimates.push(uri);
            }
            6..=7 => {
                let author = if rng.below(3) == 0 {
                    &people[rng.below(people.len() as u64) as usize]
                } else {
                    &owners[rng.below(2) as usize].to_string()
                };
                let author = author.clone();
                let p = &proposals[rng.below(proposals.len() as u64) as usize];
                let stage = match rng.below(4) {
                    0 => {
                        json!({ "$type": "fund.greenlight.status#development", "goal": 1 + rng.below(100_000), "currency": "USD" })
                    }
                    1 => {
                        json!({ "$type": "fund.greenlight.status#preview", "url": "https://preview.example.com", "instructions": "Try", "endsAt": stamp(t + Duration::days(7)) })
                    }
                    2 => {
                        json!({ "$type": "fund.greenlight.status#release", "sourceUrl": "https://example.com/src", "license": "MIT" })
                    }
                    _ => json!({ "$type": "fund.greenlight.status#decline", "reason": "no" }),
                };
                let uri = format!("at://{author}/fund.greenlight.status/{}", tid(step as u64));
                put(
                    &pool,
                    &uri,
                    json!({
                        "subject": { "uri": p, "cid": CID }, "stage": stage, "createdAt": stamp(t),
                    }),
                )
                .await;
                statuses.push(uri);
            }
            8 => {
                let pool_of = if rng.below(2) == 0 {
                    &estimates
                } else {
                    &statuses
                };
                if !pool_of.is_empty() {
                    let uri = pool_of[rng.below(pool_of.len() as u64) as usize].clone();
                    delete(&pool, &uri).await;
                }
            }
            9 => {
                let p = proposals[rng.below(proposals.len() as u64) as usize].clone();
                if rng.below(3) == 0 {
                    delete(&pool, &p).await;
                }
            }
            10 => {
                let who = &people[rng.below(people.len() as u64) as usize];
                set_hidden(&pool, who, rng.below(2) == 0).await;
            }
            _ => {
                // Escrow: holds, state changes, late holds, payouts (fee and capture), refunds
                // and donations, in two currencies.
                let p = &proposals[rng.below(proposals.len() as u64) as usize];
                let backer = &people[rng.below(people.len() as u64) as usize];
                let pledge = format!("pl{}", rng.below(12));
                let (id, kind, state, pledge_id, debit) = match rng.below(7) {
                    0 => (
                        format!("{pledge}:hold"),
                        "pledge_hold",
                        ["pending", "posted", "voided"][rng.below(3) as usize],
                        Some(pledge.clone()),
                        "provider_clearing".to_owned(),
                    ),
                    1 => (
                        format!("{pledge}:hold"),
                        "pledge_hold",
                        "posted",
                        Some(pledge.clone()),
                        "provider_clearing".to_owned(),
                    ),
                    2 => (
                        format!("{pledge}:refund"),
                        "refund",
                        "posted",
                        Some(pledge.clone()),
                        format!("held:{p}"),
                    ),
                    3 => (
                        format!("po:{p}:capture"),
                        "pledge_capture",
                        "posted",
                        None,
                        format!("held:{p}"),
                    ),
                    4 => (
                        // A payment that arrived after escrow gave up on the pledge.
                        format!("{pledge}:late-hold"),
                        "pledge_hold",
                        "posted",
                        Some(pledge.clone()),
                        "provider_clearing".to_owned(),
                    ),
                    5 => (
                        // A payout whose whole amount went in fees.
                        format!("po:{p}:fee"),
                        "fee",
                        "posted",
                        None,
                        format!("held:{p}"),
                    ),
                    _ => (
                        format!("dn{step}"),
                        "donation",
                        "posted",
                        None,
                        "provider_clearing".to_owned(),
                    ),
                };
                seq += 1;
                let entry = LedgerEntry {
                    seq,
                    id,
                    created_at: t,
                    kind: kind.to_owned(),
                    state: state.to_owned(),
                    currency: if rng.below(5) == 0 { "EUR" } else { "USD" }.to_owned(),
                    amount: 1 + rng.below(5_000) as i64,
                    debit_account: debit,
                    credit_account: "x".to_owned(),
                    proposal: Some(p.clone()),
                    pledge: pledge_id,
                    donation: None,
                    backer: Some(backer.clone()),
                    agreement: None,
                };
                page.push(entry.clone());
                sent.push(entry);
                // A follower re-reading an old page: an earlier state of some entry, which
                // must not replace the later one already stored.
                if rng.below(4) == 0 {
                    let stale = sent[rng.below(sent.len() as u64) as usize].clone();
                    page.push(stale);
                }
                // Pages of one to a few entries, so one page may hold several states of an id.
                if rng.below(3) == 0 {
                    flush(&pool, &mut page, &mut latest).await;
                }
            }
        }
        if step % 25 == 24 {
            flush(&pool, &mut page, &mut latest).await;
            assert_entries_are_the_latest(&pool, &latest, step).await;
            assert_matches_rebuild(&pool, step).await;
        }
    }
    let counted: (i64,) =
        sqlx::query_as("SELECT count(*) FROM appview.estimate_state WHERE counted > 0")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(counted.0 > 0, "the walk produced counted estimates");
    let money: (i64,) = sqlx::query_as("SELECT count(*) FROM appview.contribution")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        money.0 > 0,
        "the walk produced contributions (caps above the newcomer cap)"
    );
}
