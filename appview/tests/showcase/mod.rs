//! A seeded world for page, embed and browser tests: a project with proposals in every
//! stage, estimates, pledges held in escrow, a dispute, and a proposal whose title and
//! links are hostile.
#![allow(dead_code)]

use greenlight_aggregates::{apply_ledger_entries, LedgerEntry};
use serde_json::json;

use crate::support::*;

pub const OWNER: &str = "did:plc:owner";
pub const MAINT: &str = "did:plc:maint";
pub const ALICE: &str = "did:plc:alice";
pub const MALLORY: &str = "did:plc:mallory";

/// A title full of markup and script.
pub const HOSTILE_TITLE: &str =
    "<script>alert('pwned')</script><img src=x onerror=alert(1)> \"Sync\" & <b>more</b>";

/// What the showcase seeded.
pub struct Showcase {
    pub project: String,
    /// In preview: goal $5,000, $1,240 pledged by 3 backers.
    pub preview: String,
    /// Proposed, hostile title, hostile repository link.
    pub hostile: String,
    /// Released, with a dispute.
    pub released: String,
    /// Declined.
    pub declined: String,
    /// About a bare repository whose URL is `javascript:`.
    pub hostile_repo: String,
}

fn hold(seq: i64, pledge: &str, proposal: &str, backer: &str, amount: i64) -> LedgerEntry {
    LedgerEntry {
        seq,
        id: format!("{pledge}:hold"),
        created_at: at(60),
        kind: "pledge_hold".into(),
        state: "posted".into(),
        currency: "USD".into(),
        amount,
        debit_account: "provider_clearing".into(),
        credit_account: format!("held:{proposal}"),
        proposal: Some(proposal.into()),
        pledge: Some(pledge.into()),
        donation: None,
        backer: Some(backer.into()),
        agreement: None,
    }
}

pub async fn seed(seed: &Seed) -> Showcase {
    seed.handle(OWNER, "ada.test").await;
    seed.handle(MAINT, "grace.test").await;
    seed.handle(ALICE, "alice.test").await;
    seed.handle("did:plc:fan1", "fan-one.test").await;
    seed.handle("did:plc:fan2", "fan-two.test").await;
    let project = seed
        .put(
            OWNER,
            "fund.greenlight.project",
            "tessera",
            json!({
                "$type": "fund.greenlight.project",
                "name": "Tessera",
                "description": "A fast, local-first note editor.",
                "repository": "https://git.example.com/tessera",
                "website": "https://tessera.example.com",
                "currency": "USD",
                "maintainers": [MAINT],
                "createdAt": "2026-01-01T00:00:00.000Z",
            }),
        )
        .await;
    seed.accept(MAINT, &project).await;
    let preview_p = seed
        .proposal(
            ALICE,
            "3kaaaaaaaaa2a",
            &project,
            "Offline sync for mobile",
            at(10),
        )
        .await;
    let hostile = seed
        .proposal(MALLORY, "3kaaaaaaaaa2b", &project, HOSTILE_TITLE, at(11))
        .await;
    let released = seed
        .proposal(ALICE, "3kaaaaaaaaa2c", &project, "Vim key bindings", at(12))
        .await;
    let declined = seed
        .proposal(
            ALICE,
            "3kaaaaaaaaa2d",
            &project,
            "Blockchain storage",
            at(13),
        )
        .await;

    for (i, (did, amount)) in [
        ("did:plc:fan1", 40_000),
        ("did:plc:fan2", 2_000),
        (ALICE, 30_000),
    ]
    .into_iter()
    .enumerate()
    {
        seed.estimate(
            did,
            // Record keys must be TIDs: base32 digits 2-7 only.
            &format!("3kaaaaaaaaa3{}", i + 2),
            &preview_p,
            amount,
            "USD",
            at(20),
        )
        .await;
    }
    seed.estimate(
        "did:plc:fan1",
        "3kaaaaaaaaa3x",
        &hostile,
        1_500,
        "USD",
        at(21),
    )
    .await;

    seed.status(
        OWNER,
        "3kaaaaaaaaa4a",
        &preview_p,
        development(500_000),
        at(30),
    )
    .await;
    seed.status(
        MAINT,
        "3kaaaaaaaaa4b",
        &preview_p,
        preview(chrono::Utc::now() + chrono::Duration::days(20)),
        at(40),
    )
    .await;
    seed.status(
        OWNER,
        "3kaaaaaaaaa4c",
        &released,
        development(100_000),
        at(30),
    )
    .await;
    seed.status(
        OWNER,
        "3kaaaaaaaaa4d",
        &released,
        preview(at(60 * 24 * 10)),
        at(40),
    )
    .await;
    seed.status(
        OWNER,
        "3kaaaaaaaaa4e",
        &released,
        release(),
        at(60 * 24 * 11),
    )
    .await;
    seed.status(
        OWNER,
        "3kaaaaaaaaa4f",
        &declined,
        development(900_000),
        at(30),
    )
    .await;
    seed.status(
        OWNER,
        "3kaaaaaaaaa4g",
        &declined,
        json!({ "$type": "fund.greenlight.status#decline",
                "reason": "Out of scope for a <b>local-first</b> editor." }),
        at(50),
    )
    .await;

    let pledges = [
        ("did:plc:fan1", "pl-1", &preview_p, 100_000),
        ("did:plc:fan2", "pl-2", &preview_p, 14_000),
        (ALICE, "pl-3", &preview_p, 10_000),
        ("did:plc:fan1", "pl-4", &released, 50_000),
    ];
    let mut entries = Vec::new();
    for (i, (did, receipt, proposal, amount)) in pledges.iter().enumerate() {
        seed.pledge(
            did,
            &format!("3kaaaaaaaaa5{}", i + 2),
            proposal,
            *amount,
            receipt,
            at(70),
        )
        .await;
        entries.push(hold(i as i64 + 1, receipt, proposal, did, *amount));
    }
    let mut tx = seed.pool.begin().await.unwrap();
    apply_ledger_entries(&mut tx, &entries).await.unwrap();
    tx.commit().await.unwrap();

    seed.put(
        "did:plc:fan1",
        "fund.greenlight.dispute",
        "3kaaaaaaaaa6a",
        json!({
            "$type": "fund.greenlight.dispute",
            "subject": { "uri": released, "cid": CID },
            "reason": "The release is missing the <i>ex</i> commands.",
            "evidence": ["https://git.example.com/tessera/issues/9", "javascript:alert(1)"],
            "createdAt": "2026-01-12T00:00:00.000Z",
        }),
    )
    .await;

    // Escrow saw the release a day ago: its clock dates the verification period.
    let seen = chrono::Utc::now() - chrono::Duration::days(1);
    seed.escrow_state(
        &released,
        &project,
        OWNER,
        "released",
        Some((seen, seen + chrono::Duration::days(14))),
    )
    .await;

    let hostile_repo = seed
        .repo_proposal(
            MALLORY,
            "3kaaaaaaaaa2e",
            "javascript:alert(1)//",
            HOSTILE_TITLE,
        )
        .await;

    Showcase {
        hostile_repo,
        project,
        preview: preview_p,
        hostile,
        released,
        declined,
    }
}

/// `/proposal/did/rkey` of an AT-URI.
pub fn page_of(uri: &str) -> String {
    let rest = uri.strip_prefix("at://").unwrap();
    let mut parts = rest.split('/');
    let did = parts.next().unwrap();
    let collection = parts.next().unwrap();
    let rkey = parts.next().unwrap();
    let kind = collection.rsplit('.').next().unwrap();
    format!("/{kind}/{did}/{rkey}")
}
