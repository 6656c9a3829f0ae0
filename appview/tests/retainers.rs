//! Retainer offers over a seeded database: who may sell them (`authorized`, `refusal`),
//! listing by maintainer and by project with pages, clients and totals from escrow's feeds
//! (seeded `appview.escrow_retainer` and `appview.escrow_entry` rows: listed and unlisted
//! clients, forged records, totals to the cent), the `/retainers/{did}` page with its
//! "Become a client" form, and the "Retained by" badge. Every answer is checked against its
//! lexicon by `support::xrpc`.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::*;

const OWNER: &str = "did:plc:owner";
const MAINTAINER: &str = "did:plc:maintainer";
const STRANGER: &str = "did:plc:stranger";
const OFFER: &str = "fund.greenlight.retainerOffer";

fn tier(name: &str, amount: i64, period: &str, seats: Option<i64>) -> Value {
    let mut tier = json!({
        "name": name,
        "amount": amount,
        "currency": "USD",
        "period": period,
        "included": {
            "riskMitigation": true,
            "reciprocalAccess": amount >= 500_000,
            "advisory": amount >= 2_000_000,
            "details": format!("Quarterly call for {name}."),
        },
    });
    if let Some(seats) = seats {
        tier["seatLimit"] = json!(seats);
    }
    tier
}

fn offer(projects: &[&str], tiers: Value, minute: i64) -> Value {
    let projects: Vec<Value> = projects
        .iter()
        .map(|uri| json!({ "uri": uri, "cid": CID }))
        .collect();
    json!({
        "$type": OFFER,
        "projects": projects,
        "description": "Keep **the tool** maintained.",
        "tiers": tiers,
        "termsUrl": "https://example.com/terms",
        "createdAt": stamp(at(minute)),
    })
}

fn standard_tiers() -> Value {
    json!([
        tier("Sustainer", 100_000, "month", None),
        tier("Partner", 500_000, "month", Some(5)),
        tier("Advisor", 2_000_000, "year", Some(1)),
    ])
}

/// Marks `project` as proving control of the places its record names, as the proof worker
/// stores a successful check.
async fn verify(pool: &PgPool, project: &str, repository: &str) {
    sqlx::query(
        "INSERT INTO appview.project_proof (project_uri, cid, repository, website,
             repository_key, verified, verified_at, repository_verified_since, checked_at)
         VALUES ($1, $2, $3, 'https://example.com', appview.repository_key($3), true, now(),
             now(), now())",
    )
    .bind(project)
    .bind(CID)
    .bind(repository)
    .execute(pool)
    .await
    .unwrap();
}

struct World {
    tool: String,
    unverified: String,
    by_owner: String,
    by_maintainer: String,
    by_stranger: String,
    for_unverified: String,
}

async fn world(pool: &PgPool) -> World {
    let seed = Seed::new(pool.clone());
    seed.handle(OWNER, "ada.test").await;
    let tool = seed.project(OWNER, "tool", "USD", &[MAINTAINER]).await;
    verify(pool, &tool, "https://example.com/tool").await;
    let unverified = seed.project(OWNER, "draft", "USD", &[]).await;
    let by_owner = seed
        .put(OWNER, OFFER, "tool", offer(&[&tool], standard_tiers(), 10))
        .await;
    let by_maintainer = seed
        .put(
            MAINTAINER,
            OFFER,
            "tool",
            offer(&[&tool], standard_tiers(), 11),
        )
        .await;
    let by_stranger = seed
        .put(
            STRANGER,
            OFFER,
            "tool",
            offer(&[&tool], standard_tiers(), 12),
        )
        .await;
    let for_unverified = seed
        .put(
            OWNER,
            OFFER,
            "draft",
            offer(&[&unverified], standard_tiers(), 13),
        )
        .await;
    World {
        tool,
        unverified,
        by_owner,
        by_maintainer,
        by_stranger,
        for_unverified,
    }
}

async fn get_offer(router: &axum::Router, uri: &str) -> Value {
    let reply = xrpc(
        router,
        "fund.greenlight.getRetainerOffer",
        &format!("uri={}", enc(uri)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

fn uris(reply: &Reply) -> Vec<String> {
    reply.body["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|offer| offer["uri"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn only_a_verified_projects_owner_or_consenting_maintainer_may_sell(pool: PgPool) {
    let w = world(&pool).await;
    let (_, router) = app(pool);

    let view = get_offer(&router, &w.by_owner).await;
    assert_eq!(view["authorized"], true, "{view:#}");
    assert!(view.get("refusal").is_none(), "{view:#}");
    assert_eq!(
        view["maintainer"],
        json!({ "did": OWNER, "handle": "ada.test" })
    );
    assert_eq!(
        view["projects"],
        json!([{ "uri": w.tool, "name": "Project tool", "verified": true }])
    );
    assert_eq!(view["currency"], "USD");
    assert_eq!(view["termsUrl"], "https://example.com/terms");
    // No agreement is in force before escrow bills retainers.
    assert_eq!(view["clientCount"], 0);
    let tiers = view["tiers"].as_array().unwrap();
    assert_eq!(tiers.len(), 3);
    assert_eq!(tiers[1]["name"], "Partner");
    assert_eq!(tiers[1]["amount"], 500_000);
    assert_eq!(tiers[1]["period"], "month");
    assert_eq!(tiers[1]["seatLimit"], 5);
    assert_eq!(tiers[1]["activeClients"], 0);
    assert_eq!(
        tiers[1]["included"],
        json!({ "riskMitigation": true, "reciprocalAccess": true, "advisory": false,
                "details": "Quarterly call for Partner." })
    );
    assert!(tiers[0].get("seatLimit").is_none());

    let view = get_offer(&router, &w.by_maintainer).await;
    assert_eq!(view["authorized"], true, "{view:#}");

    let view = get_offer(&router, &w.by_stranger).await;
    assert_eq!(view["authorized"], false);
    assert_eq!(
        view["refusal"],
        format!("the author neither owns nor maintains {}", w.tool)
    );

    let view = get_offer(&router, &w.for_unverified).await;
    assert_eq!(view["authorized"], false);
    assert_eq!(
        view["refusal"],
        format!("{} is not verified, so it takes no money", w.unverified)
    );

    let missing = xrpc(
        &router,
        "fund.greenlight.getRetainerOffer",
        &format!(
            "uri={}",
            enc(&format!("at://{OWNER}/fund.greenlight.retainerOffer/none"))
        ),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["error"], "NotFound");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_listed_maintainer_must_accept_and_an_unknown_project_refuses(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    // Listed, but no acceptance in the invited maintainer's own repository.
    let project = seed
        .put(
            OWNER,
            "fund.greenlight.project",
            "lib",
            json!({ "name": "Lib", "description": "", "repository": "https://example.com/lib",
                    "website": "https://example.com", "maintainers": [MAINTAINER],
                    "createdAt": stamp(at(0)) }),
        )
        .await;
    verify(&pool, &project, "https://example.com/lib").await;
    let invited = seed
        .put(
            MAINTAINER,
            OFFER,
            "lib",
            offer(&[&project], standard_tiers(), 1),
        )
        .await;
    let gone = format!("at://{OWNER}/fund.greenlight.project/gone");
    let unknown = seed
        .put(OWNER, OFFER, "gone", offer(&[&gone], standard_tiers(), 2))
        .await;
    let (_, router) = app(pool);

    let view = get_offer(&router, &invited).await;
    assert_eq!(view["authorized"], false);
    assert_eq!(
        view["refusal"],
        format!("the author is invited to maintain {project} but has not accepted")
    );
    let view = get_offer(&router, &unknown).await;
    assert_eq!(view["refusal"], format!("{gone} is not a known project"));
    assert_eq!(view["projects"], json!([{ "uri": gone }]));
}

#[sqlx::test(migrations = "../migrations")]
async fn offers_list_by_maintainer_and_by_project_in_pages(pool: PgPool) {
    let w = world(&pool).await;
    let seed = Seed::new(pool.clone());
    let elsewhere = seed.project(STRANGER, "other", "USD", &[]).await;
    let other = seed
        .put(
            STRANGER,
            OFFER,
            "other",
            offer(&[&elsewhere], standard_tiers(), 20),
        )
        .await;
    let (_, router) = app(pool);
    let list = "fund.greenlight.listRetainerOffers";

    let by_owner = xrpc(&router, list, &format!("maintainer={OWNER}")).await;
    assert_eq!(by_owner.status, StatusCode::OK);
    // Newest first.
    assert_eq!(
        uris(&by_owner),
        vec![w.for_unverified.clone(), w.by_owner.clone()]
    );
    assert!(by_owner.body.get("cursor").is_none());

    let by_stranger = xrpc(&router, list, &format!("maintainer={STRANGER}")).await;
    assert_eq!(
        uris(&by_stranger),
        vec![other.clone(), w.by_stranger.clone()]
    );

    let covering = xrpc(&router, list, &format!("project={}", enc(&w.tool))).await;
    assert_eq!(
        uris(&covering),
        vec![
            w.by_stranger.clone(),
            w.by_maintainer.clone(),
            w.by_owner.clone()
        ]
    );
    let authorized: Vec<bool> = covering.body["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|offer| offer["authorized"].as_bool().unwrap())
        .collect();
    assert_eq!(authorized, vec![false, true, true]);

    // Pages of one, continuing strictly after the last offer seen.
    let mut seen = Vec::new();
    let mut query = format!("project={}&limit=1", enc(&w.tool));
    loop {
        let page = xrpc(&router, list, &query).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let got = uris(&page);
        assert!(got.len() <= 1);
        seen.extend(got);
        match page.body["cursor"].as_str() {
            Some(cursor) => {
                query = format!("project={}&limit=1&cursor={}", enc(&w.tool), enc(cursor))
            }
            None => break,
        }
    }
    assert_eq!(seen, uris(&covering));

    let nobody = xrpc(&router, list, "maintainer=did:plc:nobody").await;
    assert_eq!(uris(&nobody), Vec::<String>::new());

    for bad in [
        String::new(),
        format!("maintainer={OWNER}&project={}", enc(&w.tool)),
        "maintainer=ada.test".to_owned(),
        format!("maintainer={OWNER}&cursor=junk"),
    ] {
        let reply = xrpc(&router, list, &bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.body["error"], "InvalidRequest", "{bad}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_record_alone_is_not_a_client(pool: PgPool) {
    let w = world(&pool).await;
    let seed = Seed::new(pool.clone());
    // A client's record alone is an unconfirmed claim: it is indexed but not listed.
    seed.put(
        "did:plc:client",
        "fund.greenlight.retainer",
        &tid(1),
        json!({ "subject": { "uri": w.by_owner, "cid": CID }, "tier": "Partner",
                "listedPublicly": true, "receipt": "agreement-1", "createdAt": stamp(at(30)) }),
    )
    .await;
    let (_, router) = app(pool);
    let list = "fund.greenlight.listRetainers";

    let by_maintainer = xrpc(&router, list, &format!("maintainer={OWNER}")).await;
    assert_eq!(by_maintainer.status, StatusCode::OK);
    assert_eq!(by_maintainer.body, json!({ "retainers": [], "totals": [] }));
    let by_client = xrpc(&router, list, "client=did:plc:client").await;
    assert_eq!(by_client.body, json!({ "retainers": [] }));
    assert_eq!(get_offer(&router, &w.by_owner).await["clientCount"], 0);

    for bad in ["", "maintainer=did:plc:a&client=did:plc:b"] {
        let reply = xrpc(&router, list, bad).await;
        assert_eq!(reply.body["error"], "InvalidRequest", "{bad}");
    }
}

const RETAINER: &str = "fund.greenlight.retainer";

/// One agreement's latest state, as the retainer-states follower stores it.
#[allow(clippy::too_many_arguments)]
async fn agreement(
    pool: &PgPool,
    id: &str,
    offer: &str,
    client: Option<&str>,
    tier: &str,
    amount: i64,
    currency: &str,
    period: &str,
    state: &str,
) {
    sqlx::query(
        "INSERT INTO appview.escrow_retainer (agreement, seq, offer, maintainer, client, tier,
             amount, currency, period, state, paid_periods, current_period_ends_at, updated_at)
         VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM appview.escrow_retainer), $2, $3,
             $4, $5, $6, $7, $8, $9, 1, '2026-12-01T00:00:00Z', now())",
    )
    .bind(id)
    .bind(offer)
    .bind(OWNER)
    .bind(client)
    .bind(tier)
    .bind(amount)
    .bind(currency)
    .bind(period)
    .bind(state)
    .execute(pool)
    .await
    .unwrap();
}

/// One ledger entry as the ledger follower stores it.
#[allow(clippy::too_many_arguments)]
async fn entry(
    pool: &PgPool,
    id: &str,
    kind: &str,
    state: &str,
    amount: i64,
    currency: &str,
    debit: &str,
    credit: &str,
    agreement: Option<&str>,
) {
    sqlx::query(
        "INSERT INTO appview.escrow_entry (id, seq, kind, state, currency, amount,
             debit_account, credit_account, agreement, created_at)
         VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM appview.escrow_entry), $2, $3, $4,
             $5, $6, $7, $8, now())",
    )
    .bind(id)
    .bind(kind)
    .bind(state)
    .bind(currency)
    .bind(amount)
    .bind(debit)
    .bind(credit)
    .bind(agreement)
    .execute(pool)
    .await
    .unwrap();
}

/// A client's record of `agreement` on `offer`.
async fn claim(seed: &Seed, client: &str, minute: i64, offer: &str, tier: &str, receipt: &str) {
    seed.put(
        client,
        RETAINER,
        &tid(minute as u64),
        json!({ "subject": { "uri": offer, "cid": CID }, "tier": tier, "listedPublicly": true,
                "receipt": receipt, "createdAt": stamp(at(minute)) }),
    )
    .await;
}

const PAYABLE: &str = "payable:did:plc:owner";

/// The owner's clients: two listed (acme active, globex cancelling), one unlisted past due,
/// one unlisted in EUR on another offer, and agreements that are not in force (an ended
/// listed one, a lapsed one, a quote); forged records; money in every state.
async fn clients(pool: &PgPool, w: &World) {
    let seed = Seed::new(pool.clone());
    seed.handle("did:plc:acme", "acme.test").await;
    let euro_offer = "at://did:plc:owner/fund.greenlight.retainerOffer/euro";
    agreement(
        pool,
        "a1",
        &w.by_owner,
        Some("did:plc:acme"),
        "Partner",
        500_000,
        "USD",
        "month",
        "active",
    )
    .await;
    agreement(
        pool,
        "a2",
        &w.by_owner,
        None,
        "Sustainer",
        100_000,
        "USD",
        "month",
        "past_due",
    )
    .await;
    agreement(
        pool,
        "a3",
        &w.by_owner,
        Some("did:plc:globex"),
        "Advisor",
        2_000_000,
        "USD",
        "year",
        "cancelling",
    )
    .await;
    agreement(
        pool,
        "a4",
        &w.by_owner,
        Some("did:plc:old"),
        "Sustainer",
        100_001,
        "USD",
        "month",
        "ended",
    )
    .await;
    agreement(
        pool,
        "a5",
        &w.by_owner,
        None,
        "Sustainer",
        100_000,
        "USD",
        "month",
        "lapsed",
    )
    .await;
    agreement(
        pool,
        "a6",
        &w.by_owner,
        Some("did:plc:later"),
        "Partner",
        500_000,
        "USD",
        "month",
        "quoted",
    )
    .await;
    agreement(
        pool, "a8", euro_offer, None, "Euro", 30_000, "EUR", "month", "active",
    )
    .await;
    // Another maintainer's agreement on the same offer URI space: never the owner's.
    sqlx::query(
        "INSERT INTO appview.escrow_retainer (agreement, seq, offer, maintainer, client, tier,
             amount, currency, period, state, paid_periods, updated_at)
         VALUES ('m1', 100, $1, $2, 'did:plc:acme', 'Sustainer', 100000, 'USD', 'month',
             'active', 1, now())",
    )
    .bind(&w.by_maintainer)
    .bind(MAINTAINER)
    .execute(pool)
    .await
    .unwrap();

    claim(&seed, "did:plc:acme", 40, &w.by_owner, "Partner", "a1").await;
    claim(&seed, "did:plc:globex", 41, &w.by_owner, "Advisor", "a3").await;
    claim(&seed, "did:plc:old", 42, &w.by_owner, "Sustainer", "a4").await;
    // Forged: someone else's agreement, an unlisted agreement, acme claiming globex's, and
    // a listed client's agreement claimed for another offer.
    claim(&seed, "did:plc:mallory", 43, &w.by_owner, "Partner", "a1").await;
    claim(&seed, "did:plc:shy", 44, &w.by_owner, "Sustainer", "a2").await;
    claim(&seed, "did:plc:acme", 45, &w.by_owner, "Advisor", "a3").await;
    claim(
        &seed,
        "did:plc:globex",
        46,
        &w.by_maintainer,
        "Advisor",
        "a3",
    )
    .await;

    // a1: one period paid, fee and payout posted; the next payment still pending.
    entry(
        pool,
        "GL-1:payment",
        "retainer_payment",
        "posted",
        500_000,
        "USD",
        "provider_clearing",
        PAYABLE,
        Some("a1"),
    )
    .await;
    entry(
        pool,
        "GL-1:fee",
        "fee",
        "posted",
        25_000,
        "USD",
        PAYABLE,
        "platform_fees",
        Some("a1"),
    )
    .await;
    entry(
        pool,
        "GL-1:payout",
        "payout",
        "posted",
        475_000,
        "USD",
        PAYABLE,
        "provider_clearing",
        Some("a1"),
    )
    .await;
    entry(
        pool,
        "GL-5:payment",
        "retainer_payment",
        "pending",
        500_000,
        "USD",
        "provider_clearing",
        PAYABLE,
        Some("a1"),
    )
    .await;
    // a2 (unlisted): paid, its payout not yet posted.
    entry(
        pool,
        "GL-2:payment",
        "retainer_payment",
        "posted",
        100_000,
        "USD",
        "provider_clearing",
        PAYABLE,
        Some("a2"),
    )
    .await;
    entry(
        pool,
        "GL-2:fee",
        "fee",
        "posted",
        5_000,
        "USD",
        PAYABLE,
        "platform_fees",
        Some("a2"),
    )
    .await;
    entry(
        pool,
        "GL-2:payout",
        "payout",
        "pending",
        95_000,
        "USD",
        PAYABLE,
        "provider_clearing",
        Some("a2"),
    )
    .await;
    // a4 (ended): the fee rounds down, in the maintainer's favour.
    entry(
        pool,
        "GL-3:payment",
        "retainer_payment",
        "posted",
        100_001,
        "USD",
        "provider_clearing",
        PAYABLE,
        Some("a4"),
    )
    .await;
    entry(
        pool,
        "GL-3:fee",
        "fee",
        "posted",
        5_000,
        "USD",
        PAYABLE,
        "platform_fees",
        Some("a4"),
    )
    .await;
    entry(
        pool,
        "GL-3:payout",
        "payout",
        "posted",
        95_001,
        "USD",
        PAYABLE,
        "provider_clearing",
        Some("a4"),
    )
    .await;
    // A voided payment (a5) counts nothing.
    entry(
        pool,
        "GL-4:payment",
        "retainer_payment",
        "voided",
        999,
        "USD",
        "provider_clearing",
        PAYABLE,
        Some("a5"),
    )
    .await;
    // a8 in EUR.
    entry(
        pool,
        "GL-6:payment",
        "retainer_payment",
        "posted",
        30_000,
        "EUR",
        "provider_clearing",
        PAYABLE,
        Some("a8"),
    )
    .await;
    entry(
        pool,
        "GL-6:fee",
        "fee",
        "posted",
        1_500,
        "EUR",
        PAYABLE,
        "platform_fees",
        Some("a8"),
    )
    .await;
    entry(
        pool,
        "GL-6:payout",
        "payout",
        "posted",
        28_500,
        "EUR",
        PAYABLE,
        "provider_clearing",
        Some("a8"),
    )
    .await;
    // Not retainer money: a donation paid into the same account, another maintainer's period.
    entry(
        pool,
        "d1",
        "donation",
        "posted",
        7_777,
        "USD",
        "provider_clearing",
        PAYABLE,
        None,
    )
    .await;
    entry(
        pool,
        "GL-7:payment",
        "retainer_payment",
        "posted",
        100_000,
        "USD",
        "provider_clearing",
        "payable:did:plc:maintainer",
        Some("m1"),
    )
    .await;
}

#[sqlx::test(migrations = "../migrations")]
async fn clients_are_counted_from_escrow_and_named_only_when_confirmed(pool: PgPool) {
    let w = world(&pool).await;
    clients(&pool, &w).await;
    let (_, router) = app(pool.clone());
    let list = "fund.greenlight.listRetainers";

    // Agreements in force (active, past due, cancelling), listed or not; ended, lapsed and
    // quoted ones are not clients.
    let offer = get_offer(&router, &w.by_owner).await;
    assert_eq!(offer["clientCount"], 3, "{offer:#}");
    let seats: Vec<(&str, i64)> = offer["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["activeClients"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seats,
        vec![("Sustainer", 1), ("Partner", 1), ("Advisor", 1)]
    );
    assert_eq!(get_offer(&router, &w.by_maintainer).await["clientCount"], 1);

    // Only records escrow confirms, newest first: acme's and globex's (in force) and old's
    // (ended, with its state). Mallory's claim on acme's agreement, shy's on an unlisted
    // one, acme's on globex's and globex's on another offer are not listed.
    let reply = xrpc(&router, list, &format!("maintainer={OWNER}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{:#}", reply.body);
    let listed: Vec<(&str, &str, &str, i64)> = reply.body["retainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["client"]["did"].as_str().unwrap(),
                r["tier"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
                r["paidTotal"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            ("did:plc:old", "Sustainer", "ended", 100_001),
            ("did:plc:globex", "Advisor", "cancelling", 0),
            ("did:plc:acme", "Partner", "active", 500_000),
        ]
    );
    let acme = &reply.body["retainers"][2];
    assert_eq!(acme["client"]["handle"], "acme.test");
    assert_eq!(acme["maintainer"]["did"], OWNER);
    assert_eq!(acme["offer"], w.by_owner.as_str());
    assert_eq!(acme["amount"], 500_000);
    assert_eq!(acme["currency"], "USD");
    assert_eq!(acme["period"], "month");
    assert_eq!(acme["listedPublicly"], true);
    assert_eq!(acme["currentPeriodEndsAt"], "2026-12-01T00:00:00.000000Z");

    // Totals agree with the ledger to the cent: every agreement counts, listed or not;
    // pending and voided entries and non-retainer money do not.
    assert_eq!(
        reply.body["totals"],
        json!([
            { "currency": "EUR", "activeClients": 1, "listedClients": 0, "paid": 30_000,
              "fees": 1_500, "paidOut": 28_500, "annualRunRate": 360_000 },
            { "currency": "USD", "activeClients": 3, "listedClients": 2, "paid": 700_001,
              "fees": 35_000, "paidOut": 570_001,
              "annualRunRate": 500_000 * 12 + 100_000 * 12 + 2_000_000 },
        ])
    );
    // The same sums straight from the stored ledger feed.
    let (paid, fees, paid_out): (i64, i64, i64) = sqlx::query_as(
        "SELECT sum(amount) FILTER (WHERE kind = 'retainer_payment')::int8,
                sum(amount) FILTER (WHERE kind = 'fee')::int8,
                sum(amount) FILTER (WHERE kind = 'payout')::int8
         FROM appview.escrow_entry
         WHERE state = 'posted' AND currency = 'USD' AND agreement IN
             (SELECT agreement FROM appview.escrow_retainer WHERE maintainer = $1)",
    )
    .bind(OWNER)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((paid, fees, paid_out), (700_001, 35_000, 570_001));

    // A client sees their own confirmed records only.
    let mine = xrpc(&router, list, "client=did:plc:acme").await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(mine.body.get("totals").is_none(), "{:#}", mine.body);
    let receipts: Vec<(&str, &str)> = mine.body["retainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["offer"].as_str().unwrap(), r["tier"].as_str().unwrap()))
        .collect();
    assert_eq!(receipts, vec![(w.by_owner.as_str(), "Partner")]);
    for nobody in ["did:plc:mallory", "did:plc:shy"] {
        let reply = xrpc(&router, list, &format!("client={nobody}")).await;
        assert_eq!(reply.body, json!({ "retainers": [] }), "{nobody}");
    }

    // Pages of one.
    let first = xrpc(&router, list, &format!("maintainer={OWNER}&limit=1")).await;
    let cursor = first.body["cursor"].as_str().unwrap().to_owned();
    let second = xrpc(
        &router,
        list,
        &format!("maintainer={OWNER}&limit=1&cursor={}", enc(&cursor)),
    )
    .await;
    assert_eq!(
        second.body["retainers"][0]["client"]["did"],
        "did:plc:globex"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_badge_counts_companies_retaining_the_maintainer(pool: PgPool) {
    let w = world(&pool).await;
    clients(&pool, &w).await;
    let (_, router) = app(pool);

    let reply = get(&router, &format!("/badge/retainers/{OWNER}.svg")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers["content-type"],
        "image/svg+xml; charset=utf-8"
    );
    assert_eq!(reply.headers["cache-control"], "public, max-age=300");
    let svg = html(&reply);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    // Four agreements in force (three on one offer, one in EUR on another), named or not.
    assert!(
        svg.contains("aria-label=\"Retained by: 4 companies\""),
        "{svg}"
    );
    assert!(svg.contains(">Retained by</text>"), "{svg}");
    assert!(svg.contains(">4 companies</text>"), "{svg}");
    assert!(!svg.contains("<script"), "{svg}");

    let one = html(&get(&router, &format!("/badge/retainers/{MAINTAINER}.svg")).await);
    assert!(one.contains(">1 company</text>"), "{one}");
    let none = html(&get(&router, "/badge/retainers/did:plc:nobody.svg").await);
    assert!(none.contains(">0 companies</text>"), "{none}");

    // Anything else is not a badge, and what was asked for is never echoed.
    for path in [
        "/badge/retainers/%3Cscript%3Ealert(1)%3C%2Fscript%3E.svg",
        "/badge/retainers/did:plc:owner",
        "/badge/retainers/did:plc:owner.png",
    ] {
        let reply = get(&router, path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        let svg = html(&reply);
        assert!(svg.contains(">not found</text>"), "{svg}");
        assert!(!svg.contains("script"), "{svg}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_retainers_page_names_listed_clients_only(pool: PgPool) {
    let w = world(&pool).await;
    clients(&pool, &w).await;
    let (_, router) = app(pool.clone());

    let body = html(&get(&router, &format!("/retainers/{OWNER}")).await);
    assert!(
        body.contains("Retained by <strong>4 companies</strong>."),
        "{body}"
    );
    // Listed clients in force, with their tiers.
    assert!(
        body.contains("<a href=\"/person/did:plc:acme\">@acme.test</a> <span class=\"muted\">(Partner)</span>"),
        "{body}"
    );
    assert!(
        body.contains("<a href=\"/person/did:plc:globex\">did:plc:globex</a> <span class=\"muted\">(Advisor)</span>"),
        "{body}"
    );
    assert!(
        body.contains("And 2 more that asked not to be named."),
        "{body}"
    );
    // Not named: unlisted clients, forgers, a client whose agreement ended, a quote.
    for absent in [
        "did:plc:shy",
        "did:plc:mallory",
        "did:plc:old",
        "did:plc:later",
    ] {
        assert!(!body.contains(absent), "{absent} is named\n{body}");
    }
    // The README snippet.
    assert!(
        body.contains("[![Retained by 4 companies](http://localhost:2584/badge/retainers/did:plc:owner.svg)](http://localhost:2584/retainers/did:plc:owner)"),
        "{body}"
    );
    assert!(
        body.contains(
            "<img alt=\"Retained by 4 companies\" src=\"/badge/retainers/did:plc:owner.svg\">"
        ),
        "{body}"
    );
    // Nobody signed in: a way to sign in, no form.
    assert!(
        body.contains("<a href=\"/sign-in?return=%2Fretainers%2Fdid%3Aplc%3Aowner\">Sign in</a> to become a client."),
        "{body}"
    );
    assert!(!body.contains("<form"), "{body}");

    // Signed in, another person gets the "Become a client" form for each authorized offer.
    let session = greenlight_appview::sign_in::browser::start(&pool, "did:plc:buyer", None)
        .await
        .unwrap();
    let request = axum::http::Request::get(format!("/retainers/{OWNER}"))
        .header(
            "cookie",
            format!(
                "{}={session}",
                greenlight_appview::sign_in::browser::SESSION_COOKIE
            ),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = get_with(&router, request).await;
    assert_eq!(reply.headers["cache-control"], "private, no-store");
    let body = html(&reply);
    assert_eq!(
        body.matches("action=\"/retainers/did:plc:owner/quote\"")
            .count(),
        1,
        "{body}"
    );
    for field in [
        "name=\"csrf\"",
        "name=\"key\"",
        &format!("name=\"offer\" value=\"{}\"", w.by_owner),
        &format!("name=\"offer_cid\" value=\"{CID}\""),
        "<input type=\"radio\" name=\"tier\" value=\"Sustainer\" checked required>",
        "<input type=\"radio\" name=\"tier\" value=\"Partner\" required>",
        "name=\"legal_name\"",
        "<textarea rows=\"8\" id=\"f-address\" name=\"address\"",
        "name=\"tax_id\"",
        "name=\"purchase_order\"",
        "name=\"email\"",
        "<input type=\"radio\" name=\"collection\" value=\"invoice\" checked>",
        "<input type=\"radio\" name=\"collection\" value=\"card\">",
        "<input type=\"checkbox\" name=\"listed\" value=\"yes\">",
        "<button type=\"submit\">Request a quote</button>",
    ] {
        assert!(body.contains(field), "missing {field:?}\n{body}");
    }

    // A post without a session is refused before anything else.
    let post = axum::http::Request::post(format!("/retainers/{OWNER}/quote"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("tier=Partner"))
        .unwrap();
    assert_eq!(
        get_with(&router, post).await.status,
        StatusCode::UNAUTHORIZED
    );
}

fn html(reply: &Reply) -> String {
    String::from_utf8(reply.raw.clone()).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_retainers_page_shows_tiers_side_by_side(pool: PgPool) {
    let w = world(&pool).await;
    let (_, router) = app(pool);

    let reply = get(&router, &format!("/retainers/{OWNER}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", html(&reply));
    let body = html(&reply);
    assert!(!body.contains("<script"), "{body}");
    // The tiers are the columns, in the offer's order, each row one thing to compare.
    let header = "<thead><tr><td></td><th scope=\"col\">Sustainer</th><th scope=\"col\">Partner</th><th scope=\"col\">Advisor</th></tr></thead>";
    assert!(body.contains(header), "{body}");
    for needed in [
        "<th scope=\"row\">Price</th><td>$1,000 per month</td><td>$5,000 per month</td><td>$20,000 per year</td>",
        "<th scope=\"row\">Risk mitigation</th><td>Included</td><td>Included</td><td>Included</td>",
        "<th scope=\"row\">Reciprocal access</th><td class=\"muted\">Not included</td><td>Included</td><td>Included</td>",
        "<th scope=\"row\">Advice</th><td class=\"muted\">Not included</td><td class=\"muted\">Not included</td><td>Included</td>",
        "Quarterly call for Advisor.",
        "<th scope=\"row\">Seats</th><td>No limit</td><td>At most 5 clients</td><td>At most 1 client</td>",
        "Retainers from @ada.test",
        "href=\"/project/did:plc:owner/tool\">Project tool</a>",
        "Authorized: the maintainer may sell retainers",
        "<strong>the tool</strong>",
        "href=\"https://example.com/terms\"",
        "Retained by <strong>0 companies</strong>.",
    ] {
        assert!(body.contains(needed), "missing {needed:?}\n{body}");
    }
    // The unverified project's offer says why it cannot be sold.
    assert!(body.contains(&format!(
        "<strong>Not authorized.</strong> {} is not verified, so it takes no money",
        w.unverified
    )));
    // Nobody is signed in: no form, only a way to sign in (and none for the offer that
    // cannot be sold).
    assert!(!body.contains("<form"), "{body}");
    assert_eq!(body.matches("to become a client.").count(), 1, "{body}");
    assert!(!body.contains("<button"), "{body}");

    // The person page links to the offers, and only when there are some.
    let person = html(&get(&router, &format!("/person/{OWNER}")).await);
    assert!(
        person.contains("href=\"/retainers/did:plc:owner\""),
        "{person}"
    );
    let nobody = get(&router, "/person/did:plc:nobody").await;
    assert_eq!(nobody.status, StatusCode::OK);
    assert!(!html(&nobody).contains("/retainers/"), "{}", html(&nobody));

    // Someone with no offers gets a page that says so.
    let none = html(&get(&router, "/retainers/did:plc:nobody").await);
    assert!(
        none.contains("did:plc:nobody offers no retainers."),
        "{none}"
    );
    // Not a DID: the address is not valid.
    let bad = get(&router, "/retainers/ada.test").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = "../migrations")]
async fn hostile_text_in_an_offer_stays_text(pool: PgPool) {
    let seed = Seed::new(pool.clone());
    let project = seed.project(OWNER, "tool", "USD", &[]).await;
    let hostile = "<script>alert(1)</script>";
    let mut record = offer(
        &[&project],
        json!([
            tier(hostile, 100_000, "month", None),
            tier("\"><img src=x onerror=alert(1)>", 200_000, "month", None),
        ]),
        1,
    );
    record["description"] = json!("<script>alert(2)</script> [x](javascript:alert(3))");
    record["tiers"][0]["included"]["details"] = json!("<iframe src=\"https://evil.example\">");
    record["termsUrl"] = json!("javascript:alert(4)");
    seed.put(OWNER, OFFER, "tool", record).await;
    let (_, router) = app(pool);

    let body = html(&get(&router, &format!("/retainers/{OWNER}")).await);
    assert!(!body.contains("<script"), "{body}");
    // The only image is the page's own badge preview.
    assert!(!body.contains("<img src=x"), "{body}");
    assert_eq!(body.matches("<img").count(), 1, "{body}");
    assert!(!body.contains("<iframe"), "{body}");
    assert!(!body.contains("href=\"javascript:"), "{body}");
    assert!(
        body.contains("<th scope=\"col\">&lt;script&gt;alert(1)&lt;/script&gt;</th>"),
        "{body}"
    );
    assert!(
        body.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{body}"
    );
}
