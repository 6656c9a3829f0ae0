//! How long a person waits from pressing "Estimate" until the page shows their estimate,
//! through the whole system (their PDS, the firehose, the indexer, the AppView), measured
//! in real Chromium. A benchmark, not a check: run it with
//! `cargo test -p greenlight-tests --test browser_latency -- --ignored --nocapture`
//! (figures in BENCHMARKS.md).

use std::time::{Duration, Instant};

use greenlight_tests::browser::Browser;
use greenlight_tests::services::ServicesConfig;
use greenlight_tests::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run on demand with --ignored"]
async fn estimate_to_shown_latency() {
    let tries: usize = std::env::var("GREENLIGHT_LATENCY_TRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let world = World::start(ServicesConfig::default()).await;
    let appview = world.services.appview_url.clone();
    let person = world.network.create_account("timer").await.unwrap();
    let browser = Browser::launch(false).await.unwrap();
    browser.sign_in(&appview, &person).await.unwrap();
    browser.goto(&format!("{appview}/propose")).await.unwrap();
    browser
        .fill("#f-repository", "https://code.example/t/tool")
        .await
        .unwrap();
    browser.fill("#f-title", "Timing").await.unwrap();
    browser.fill("#f-body", "Measure me.").await.unwrap();
    browser.click_button("Propose").await.unwrap();
    browser.wait_for_text("shown below").await.unwrap();

    let mut waits = Vec::with_capacity(tries);
    for i in 0..tries {
        let amount = 2 + (i % 20);
        let expected = format!("You estimated ${amount}.");
        browser
            .fill("#f-amount", &amount.to_string())
            .await
            .unwrap();
        let button = if i == 0 {
            "Estimate"
        } else {
            "Change estimate"
        };
        let pressed = Instant::now();
        browser.click_button(button).await.unwrap();
        loop {
            let text = browser.text().await.unwrap_or_default();
            if text.contains("shown below") && text.contains(&expected) {
                break;
            }
            assert!(
                pressed.elapsed() < Duration::from_secs(30),
                "never shown:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        waits.push(pressed.elapsed());
    }
    waits.sort();
    let at = |q: f64| waits[((waits.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "estimate → shown over {tries} tries: p50 {:?}, p99 {:?}, max {:?}",
        at(0.5),
        at(0.99),
        waits[waits.len() - 1]
    );
    browser.close().await;
    world.stop().await;
}
