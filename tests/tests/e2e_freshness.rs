//! Freshness (DESIGN §8): the time from a record written to the PDS until
//! `getFundingTotals` reflects it, over many writes, with every service a separate process.
//!
//! A measurement, not a pass/fail check of the target, so it is ignored by default:
//! `cargo test -p greenlight-tests --test e2e_freshness -- --ignored --nocapture`
//! (`FRESHNESS_WRITES`, default 200).

use std::time::{Duration, Instant};

use greenlight_cli::appview_client::AppViewClient;
use greenlight_cli::records::{self, ProposalTarget};
use greenlight_cli::session::Session;
use greenlight_tests::network::TestNetwork;
use greenlight_tests::services::{Services, ServicesConfig};
use serde_json::Value;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn total_reaches(appview: &AppViewClient, uri: &str, want: i64, deadline: Instant) -> bool {
    loop {
        if let Ok(Some(totals)) = appview.funding_totals(uri).await {
            if totals.get("estimateTotal").and_then(Value::as_i64) == Some(want) {
                return true;
            }
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn freshness_from_pds_write_to_funding_totals() {
    let writes: usize = std::env::var("FRESHNESS_WRITES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let network = TestNetwork::start().await.unwrap();
    let services = Services::start(&network, ServicesConfig::default())
        .await
        .unwrap();
    let appview = AppViewClient::new(&services.appview_url);
    let account = network.create_account("fresh").await.unwrap();
    let author = Session::login(network.pds_url(), &account.handle, &account.password)
        .await
        .unwrap();
    let proposal = records::create(
        &author,
        &records::proposal_record(
            ProposalTarget::Repository("https://example.com/fresh".into()),
            "Freshness",
            "Measured.",
            vec![],
        ),
        None,
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while appview
        .get_proposal(&proposal.uri)
        .await
        .ok()
        .flatten()
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the proposal never appeared\n{}",
            services.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Each write is the author's newest estimate with a new amount (the newest counts, under
    // the 25.00 newcomer cap), so the total shows exactly when that write was applied.
    let mut latencies = Vec::with_capacity(writes);
    let mut call_times = Vec::with_capacity(writes);
    for i in 0..writes {
        let amount = 100 + (i as i64 % 2000) + 1;
        let started = Instant::now();
        records::create(
            &author,
            &records::estimate_record(proposal.strong_ref(), amount, "USD"),
            None,
        )
        .await
        .unwrap();
        let written = Instant::now();
        assert!(
            total_reaches(
                &appview,
                &proposal.uri,
                amount,
                written + Duration::from_secs(30)
            )
            .await,
            "write {i} never showed in getFundingTotals\n{}",
            services.logs()
        );
        latencies.push(written.elapsed());
        call_times.push(written - started);
    }
    latencies.sort();
    call_times.sort();
    let p50 = percentile(&latencies, 50.0);
    let p99 = percentile(&latencies, 99.0);
    let max = latencies[latencies.len() - 1];
    println!(
        "freshness over {writes} writes (createRecord returned → getFundingTotals shows it): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; the createRecord call itself: p50 {:.1} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        percentile(&call_times, 50.0).as_secs_f64() * 1e3
    );
    services.stop().await.unwrap();
    network.stop().await.unwrap();
}
