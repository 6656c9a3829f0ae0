//! Retainer offers over a seeded database: who may sell them (`authorized`, `refusal`),
//! listing by maintainer and by project with pages, the empty `listRetainers` until escrow
//! bills, and the read-only `/retainers/{did}` page. Every answer is checked against its
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
async fn no_retainer_is_listed_until_escrow_bills(pool: PgPool) {
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
        "Becoming a client opens when billing is available.",
    ] {
        assert!(body.contains(needed), "missing {needed:?}\n{body}");
    }
    // The unverified project's offer says why it cannot be sold.
    assert!(body.contains(&format!(
        "<strong>Not authorized.</strong> {} is not verified, so it takes no money",
        w.unverified
    )));
    // No button or form pretends one can become a client.
    assert!(!body.contains("<form"), "{body}");
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
    assert!(!body.contains("<img"), "{body}");
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
