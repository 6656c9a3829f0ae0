//! The AppView on the real local network: records written to the reference PDS flow through
//! the indexer (with the aggregates hook in its batch transactions) into the AppView's
//! answers; the PDS proxies queries to the AppView by its did:web (`atproto-proxy` header,
//! resolved over http because the PDS runs in dev mode); and the time from a PDS write to
//! the new totals in `getFundingTotals` is measured against DESIGN §8's 1 s target.

use std::sync::Arc;
use std::time::{Duration, Instant};

use greenlight_appview::{AppView, Config};
use greenlight_indexer::metrics::Metrics;
use greenlight_indexer::pipeline::BatchConfig;
use greenlight_indexer::service::{run_live, LiveConfig, SourceKind};
use greenlight_indexer::writer::AggregatesObserver;
use greenlight_lexicon::Catalog;
use greenlight_tests::network::{RecordRef, TestNetwork};
use greenlight_tests::reference_validator::validate_outputs;
use greenlight_tests::scratch_database::ScratchDatabase;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const NOW: &str = "2026-01-01T12:00:00.000Z";

fn strong_ref(r: &RecordRef) -> Value {
    json!({ "uri": r.uri, "cid": r.cid })
}

fn enc(s: &str) -> String {
    s.replace(':', "%3A").replace('/', "%2F")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pds_writes_reach_the_appview_and_the_pds_proxies_to_it() {
    let net = TestNetwork::start().await.unwrap();
    let db = ScratchDatabase::create("appview_network").await.unwrap();
    let pool = greenlight_store::open(&db.url, 8).await.unwrap();

    // The indexer follows the PDS firehose from its beginning.
    sqlx::query("INSERT INTO appview.source_cursor (source, position) VALUES ('pds', 0)")
        .execute(&pool)
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let indexer = tokio::spawn(run_live(
        LiveConfig {
            source: SourceKind::Firehose {
                url: net.firehose_url(),
                verify_signatures: true,
            },
            source_name: Some("pds".into()),
            identity: greenlight_identity::ResolverConfig {
                plc_url: net.plc_url().to_owned(),
                allow_insecure_http: true,
                handle_resolver_pds: Some(net.pds_url().to_owned()),
                ..greenlight_identity::ResolverConfig::default()
            },
            batch: BatchConfig {
                max_events: 500,
                linger: Duration::from_millis(5),
                channel_capacity: 1000,
            },
            max_backoff: Duration::from_millis(500),
            metrics_addr: None,
        },
        pool.clone(),
        Some(Arc::new(AggregatesObserver)),
        Metrics::new(),
        shutdown.clone(),
    ));

    // The AppView on a loopback port; its did:web is did:web:localhost%3A<port>.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = AppView::new(pool.clone(), Config::local(addr)).unwrap();
    app.spawn_cache_listener(shutdown.clone());
    tokio::spawn(app.clone().serve(listener));
    let base = format!("http://127.0.0.1:{}", addr.port());
    let http = reqwest::Client::new();
    let catalog = Catalog::embedded().unwrap();

    let owner = net.create_account("owner").await.unwrap();
    let fan = net.create_account("fan").await.unwrap();
    let project = net
        .put_record(
            &owner,
            "fund.greenlight.project",
            "editor",
            json!({
                "name": "Editor", "description": "A text editor.",
                "repository": "https://git.test/editor", "currency": "USD", "createdAt": NOW,
            }),
        )
        .await
        .unwrap();
    let proposal = net
        .create_record(&fan, "fund.greenlight.proposal", json!({
            "subject": { "$type": "com.atproto.repo.strongRef", "uri": project.uri, "cid": project.cid },
            "title": "Offline sync", "body": "Please.", "createdAt": NOW,
        }))
        .await
        .unwrap();
    net.create_record(&owner, "fund.greenlight.status", json!({
        "subject": strong_ref(&proposal),
        "stage": { "$type": "fund.greenlight.status#development", "goal": 100000, "currency": "USD" },
        "createdAt": NOW,
    }))
    .await
    .unwrap();

    // Freshness: each estimate, from the PDS's answer to the totals showing it.
    let totals_url = format!(
        "{base}/xrpc/fund.greenlight.getFundingTotals?uris={}",
        enc(&proposal.uri)
    );
    let mut lags = Vec::new();
    let mut expected = 0i64;
    for i in 0..20i64 {
        let voter = if i % 2 == 0 { &fan } else { &owner };
        let amount = 100 + i;
        net.create_record(
            voter,
            "fund.greenlight.estimate",
            json!({
                "subject": strong_ref(&proposal), "amount": amount, "currency": "USD",
                "createdAt": format!("2026-01-01T12:{:02}:00.000Z", i + 1),
            }),
        )
        .await
        .unwrap();
        // Latest per author: the newest estimate of each of the two authors counts.
        expected = 100 + i + if i == 0 { 0 } else { 100 + i - 1 };
        let written = Instant::now();
        loop {
            let body: Value = http
                .get(&totals_url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if body["totals"][0]["estimateTotal"] == json!(expected) {
                catalog
                    .validate_output("fund.greenlight.getFundingTotals", &body)
                    .unwrap();
                break;
            }
            assert!(
                written.elapsed() < Duration::from_secs(10),
                "estimate {i} never showed: {body}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lags.push(written.elapsed());
    }
    lags.sort();
    let p50 = lags[lags.len() / 2];
    let worst = lags[lags.len() - 1];
    println!(
        "write-to-totals lag over {} writes: p50 {:?}, max {:?}",
        lags.len(),
        p50,
        worst
    );
    assert_eq!(expected, 119 + 118);
    assert!(worst < Duration::from_secs(5), "lag {worst:?}");

    // The PDS proxies to us: it resolves did:web:localhost%3A<port> and calls our endpoint.
    let did = greenlight_appview::did_web::did_for(&app.config().public_url);
    let direct: Value = http
        .get(format!(
            "{base}/xrpc/fund.greenlight.getProposal?uri={}",
            enc(&proposal.uri)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    catalog
        .validate_output("fund.greenlight.getProposal", &direct)
        .unwrap();
    assert_eq!(direct["stage"], "development");
    assert_eq!(direct["author"]["handle"], fan.handle.as_str());
    let proxied = http
        .get(format!(
            "{}/xrpc/fund.greenlight.getProposal?uri={}",
            net.pds_url(),
            enc(&proposal.uri)
        ))
        .bearer_auth(&fan.access_jwt)
        .header("atproto-proxy", format!("{did}#greenlight_appview"))
        .send()
        .await
        .unwrap();
    let status = proxied.status();
    let proxied: Value = proxied.json().await.unwrap();
    assert_eq!(status, 200, "{proxied}\n{}", net.logs());
    assert_eq!(proxied, direct);

    // Errors come back through the proxy as the XRPC error we sent.
    let missing = format!("at://{}/fund.greenlight.proposal/3kaaaaaaaaaaa", fan.did);
    let proxied = http
        .get(format!(
            "{}/xrpc/fund.greenlight.getProposal?uri={}",
            net.pds_url(),
            enc(&missing)
        ))
        .bearer_auth(&fan.access_jwt)
        .header("atproto-proxy", format!("{did}#greenlight_appview"))
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 400);
    let body: Value = proxied.json().await.unwrap();
    assert_eq!(body["error"], "NotFound");

    // Every method's answer, judged by the reference implementation's validator.
    net.create_record(
        &fan,
        "fund.greenlight.pledge",
        json!({
            "subject": strong_ref(&proposal), "amount": 5000, "currency": "USD",
            "receipt": "pl_1", "createdAt": NOW,
        }),
    )
    .await
    .unwrap();
    let pledges_url = format!(
        "{base}/xrpc/fund.greenlight.listPledges?proposal={}",
        enc(&proposal.uri)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body: Value = http
            .get(&pledges_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if body["pledges"].as_array().is_some_and(|p| !p.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "the pledge never showed: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let calls = [
        (
            "fund.greenlight.getProposal",
            format!("uri={}", enc(&proposal.uri)),
        ),
        (
            "fund.greenlight.listProposals",
            "sort=top&limit=10".to_owned(),
        ),
        (
            "fund.greenlight.listProposals",
            format!("project={}&stage=development", enc(&project.uri)),
        ),
        ("fund.greenlight.searchProposals", "q=offline".to_owned()),
        (
            "fund.greenlight.getProject",
            format!("uri={}", enc(&project.uri)),
        ),
        (
            "fund.greenlight.listProjects",
            format!("maintainer={}", owner.handle),
        ),
        (
            "fund.greenlight.getFundingTotals",
            format!("uris={}&uris={}", enc(&proposal.uri), enc(&project.uri)),
        ),
        (
            "fund.greenlight.listEstimates",
            format!("proposal={}&limit=5", enc(&proposal.uri)),
        ),
        (
            "fund.greenlight.listPledges",
            format!("proposal={}", enc(&proposal.uri)),
        ),
        ("fund.greenlight.getActor", format!("actor={}", fan.handle)),
        ("fund.greenlight.getActor", format!("actor={}", owner.did)),
    ];
    let mut cases = Vec::new();
    for (nsid, query) in calls {
        let response = http
            .get(format!("{base}/xrpc/{nsid}?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{nsid}?{query}");
        let body: Value = response.json().await.unwrap();
        catalog.validate_output(nsid, &body).unwrap();
        let items = ["proposals", "projects", "totals", "estimates", "pledges"]
            .iter()
            .find_map(|k| body.get(*k).and_then(Value::as_array).map(Vec::len));
        assert_ne!(items, Some(0), "{nsid}?{query} returned nothing: {body}");
        cases.push((nsid.to_owned(), body));
    }
    // The checker is not vacuous: a view without its stage is refused.
    let mut broken = direct.clone();
    broken.as_object_mut().unwrap().remove("stage");
    cases.push(("fund.greenlight.getProposal".to_owned(), broken));
    let verdicts = validate_outputs(&cases).await.unwrap();
    let last = verdicts.len() - 1;
    for (i, verdict) in verdicts.iter().enumerate() {
        if i == last {
            assert!(
                verdict.is_err(),
                "the reference accepted a proposalView without a stage"
            );
        } else {
            assert!(
                verdict.is_ok(),
                "{}: {:?}\n{:#}",
                cases[i].0,
                verdict,
                cases[i].1
            );
        }
    }

    shutdown.cancel();
    indexer.await.unwrap().unwrap();
    pool.close().await;
    db.drop_now().await.unwrap();
    net.stop().await.unwrap();
}
