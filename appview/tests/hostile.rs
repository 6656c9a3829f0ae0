//! Hostile queries: at least 10,000 generated requests across every endpoint — malformed
//! at-uris, huge and odd limits, unicode junk, unknown and repeated parameters, SQL
//! metacharacters, forged cursors, broken percent-encoding. None may be a 500; every error
//! must be a valid XRPC error body and every success a valid output.

mod support;

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sqlx::PgPool;
use support::*;

const METHODS: &[(&str, &[&str])] = &[
    ("fund.greenlight.getProposal", &["uri"]),
    (
        "fund.greenlight.listProposals",
        &["project", "repository", "stage", "sort", "limit", "cursor"],
    ),
    ("fund.greenlight.searchProposals", &["q", "limit", "cursor"]),
    ("fund.greenlight.getProject", &["uri"]),
    (
        "fund.greenlight.listProjects",
        &["maintainer", "limit", "cursor"],
    ),
    ("fund.greenlight.getFundingTotals", &["uris"]),
    (
        "fund.greenlight.listEstimates",
        &["proposal", "limit", "cursor"],
    ),
    (
        "fund.greenlight.listPledges",
        &["proposal", "limit", "cursor"],
    ),
    ("fund.greenlight.getActor", &["actor"]),
];

/// A small deterministic generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Raw (already percent-encoded or deliberately broken) query values.
fn value(rng: &mut Rng, known: &[String]) -> String {
    let junk = [
        "",
        "%",
        "%zz",
        "%00",
        "%FF%FE",
        "%C0%AF",
        "%F0%9F%92%A9",
        "%E2%80%AE",
        "%ED%A0%80",
        "'",
        "%27%3B%20DROP%20TABLE%20appview.record%3B--",
        "1%20OR%201%3D1",
        "%5C",
        "%22",
        "at%3A%2F%2F",
        "at%3A%2F%2Fdid%3Aplc%3Ax",
        "at%3A%2F%2Fdid%3Aplc%3Ax%2F..%2F..",
        "at%3A%2F%2F%25%2F%25",
        "at%3A%2F%2Fdid%3Aplc%3Ax%2Ffund.greenlight.proposal%2F%00",
        "did%3Aplc%3A",
        "did%3Aweb%3A%E2%98%83",
        "handle..test",
        "x.test",
        "-1",
        "0",
        "101",
        "99999999999999999999999",
        "1e3",
        "NaN",
        "%2B5",
        "50%20",
        "top",
        "new",
        "pledged",
        "released",
        "proposal%27",
        "%E2%80%8B",
        "%EF%BF%BD",
        "%F4%8F%BF%BF",
        "a%26b%3Dc",
        "%3Cscript%3E",
        "%5B%5D",
        "uris%5B%5D",
        "%7B%22a%22%3A1%7D",
        "dG9wLjEuYXQ6Ly8",
        "bmV3LjEuYXQ6Ly9kaWQ6cGxjOngveS96",
        "c2VhcmNoLjQyOTQ5NjcyOTYuYXQ6Ly94L3kveg",
        "c2VhcmNoLjIxMzkwOTUwNDAuYXQ6Ly94L3kveg",
        "!%40%23%24%5E*()",
        "%0D%0AX-Injected%3A%201",
        "%E0%A4%A8%E0%A4%AE%E0%A4%B8%E0%A5%8D%E0%A4%A4%E0%A5%87",
        "%CC%81%CC%81%CC%81%CC%81",
    ];
    match rng.below(7) {
        0 => rng.pick(&junk).to_owned(),
        6 => {
            // Well-formed cursors with hostile keys: out-of-range times, ranks that are
            // not finite, keys of another listing.
            let sort = rng.pick(&[
                "top",
                "new",
                "pledged",
                "search",
                "projects",
                "estimates",
                "pledges",
                "x",
            ]);
            let key = [
                i64::MIN,
                i64::MAX,
                -1,
                0,
                0x7fc0_0000,
                0x7f80_0000,
                -62_135_596_800_000_001,
                253_402_300_800_000_000,
            ][rng.below(8)];
            let uri = rng.pick(&[
                "at://did:plc:x/fund.greenlight.proposal/3k",
                "at://",
                "at://'--/x",
                "at://did:plc:x/a/b\u{0}",
            ]);
            enc(&URL_SAFE_NO_PAD.encode(format!("{sort}.{key}.{uri}")))
        }
        1 => enc(&known[rng.below(known.len())]),
        2 => {
            // A real URI with something appended or cut.
            let base = &known[rng.below(known.len())];
            let cut = rng.below(base.len() + 1);
            enc(&format!(
                "{}{}",
                &base[..cut],
                rng.pick(&["'", "%", "\u{202e}", "/x/y/z", " ", "\u{1F4A9}", ""])
            ))
        }
        3 => "A".repeat(rng.below(3) * 4000 + rng.below(600)),
        4 => {
            // Random bytes, percent-encoded: anything, including invalid UTF-8.
            let n = rng.below(40);
            (0..n).map(|_| format!("%{:02X}", rng.below(256))).collect()
        }
        _ => format!("{}", (rng.next() as i64) >> rng.below(64)),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn ten_thousand_hostile_requests_never_fail_the_server(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    seed.handle("did:plc:owner", "owner.test").await;
    let project = seed
        .project("did:plc:owner", "editor", "USD", &["did:plc:maint"])
        .await;
    let proposal = seed
        .proposal(
            "did:plc:alice",
            "3kaaaaaaaaa2a",
            &project,
            "Offline sync",
            at(1),
        )
        .await;
    seed.estimate("did:plc:fan", "3kaaaaaaaaa3a", &proposal, 900, "USD", at(2))
        .await;
    seed.status(
        "did:plc:owner",
        "3kaaaaaaaaa4a",
        &proposal,
        development(10_000),
        at(3),
    )
    .await;
    let known = vec![
        project,
        proposal,
        "did:plc:owner".to_owned(),
        "owner.test".to_owned(),
        "https://example.com/editor".to_owned(),
    ];
    let (app, router) = app(pool);

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut by_status = std::collections::BTreeMap::new();
    let total = 10_500;
    for i in 0..total {
        let (nsid, names) = if i % 50 == 49 {
            // Now and then a method that does not exist, or a path with junk in it.
            (
                [
                    "fund.greenlight.nope",
                    "fund.greenlight.getProposal%00",
                    "..%2F..%2Fetc",
                    "fund.greenlight.escrow.createPledge",
                ][rng.below(4)],
                &["uri"][..],
            )
        } else {
            METHODS[i % METHODS.len()]
        };
        let mut parts = Vec::new();
        for _ in 0..rng.below(5) {
            let name = if rng.below(4) == 0 {
                rng.pick(&[
                    "zzz",
                    "uri%00",
                    "limit%5B%5D",
                    "%F0%9F%92%A9",
                    "",
                    "cursor",
                    "uris",
                    "q",
                ])
                .to_owned()
            } else {
                names[rng.below(names.len())].to_owned()
            };
            parts.push(format!("{name}={}", value(&mut rng, &known)));
        }
        let path = format!("/xrpc/{nsid}?{}", parts.join("&"));
        let reply = get(&router, &path).await;
        *by_status.entry(reply.status.as_u16()).or_insert(0u32) += 1;
        assert_ne!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}: {:?}",
            reply.body
        );
        if reply.status == StatusCode::OK {
            check(nsid, &reply);
        } else {
            assert_xrpc_error(&reply);
        }
    }
    assert_eq!(
        app.metrics().server_errors(),
        by_status.get(&501).copied().unwrap_or(0) as u64
    );
    // The generator reaches both outcomes: real answers and rejections.
    assert!(
        by_status.get(&200).copied().unwrap_or(0) > 500,
        "{by_status:?}"
    );
    assert!(
        by_status.get(&400).copied().unwrap_or(0) > 2000,
        "{by_status:?}"
    );
    println!("{total} requests by status: {by_status:?}");
}
