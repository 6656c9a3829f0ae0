//! Becoming a retainer client from the pages, in real headless Chromium, on the reference PDS
//! with the indexer, the AppView and escrow as processes. A company signs in with atproto
//! OAuth, chooses a tier on the maintainer's retainer page, fills in what its accounts payable
//! needs, reads the quote, starts the retainer, pays the first invoice through escrow's
//! sandbox payment page (the stand-in for Stripe's hosted invoice page), and is listed on the
//! maintainer's page and badge; then it cancels from its own page. The screenshot of the
//! maintainer's page is the README's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use greenlight_cli::records;
use greenlight_cli::session::Session;
use greenlight_tests::browser::Browser;
use greenlight_tests::services::{repo_root, ServicesConfig};
use greenlight_tests::steps::{new_project, three_tier_offer};
use greenlight_tests::world::World;
use serde_json::Value;

fn artifacts() -> PathBuf {
    repo_root().join("tests/artifacts/browser")
}

/// Waits until `page` (fetched without a session) contains `needle`.
async fn public_page_shows(url: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = reqwest::get(url)
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        if page.contains(needle) {
            return page;
        }
        assert!(Instant::now() < deadline, "{url} never showed {needle:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_becomes_a_client_from_the_maintainers_page() {
    let world = World::start(ServicesConfig::default()).await;
    let appview = world.services.appview_url.clone();
    let maintainer_account = world
        .network
        .create_account("br-maint")
        .await
        .expect("account");
    let maintainer = Session::login(
        world.network.pds_url(),
        &maintainer_account.handle,
        &maintainer_account.password,
    )
    .await
    .expect("login");
    let project = world
        .proven_project(
            &maintainer,
            "tidepool",
            new_project("Tidepool", "USD", vec![]),
        )
        .await;
    world
        .escrow
        .connect_payout_account(&maintainer)
        .await
        .expect("payout account");
    let offer = three_tier_offer(project);
    records::create(&maintainer, &offer, None)
        .await
        .expect("offer");
    let page = format!("{appview}/retainers/{}", maintainer.did());
    public_page_shows(&page, "Retained by").await;

    // The maintainer names herself as the vendor on her invoices, from her own page.
    let studio = Browser::launch(false).await.unwrap();
    studio.sign_in(&appview, &maintainer_account).await.unwrap();
    studio
        .goto(&format!("{appview}/person/{}", maintainer.did()))
        .await
        .unwrap();
    studio
        .fill("#f-vendor_legal_name", "Tidepool Maintenance Ltd")
        .await
        .unwrap();
    studio
        .pick("#f-vendor_address", "7 Analytical Row\nLondon N1 9GU")
        .await
        .unwrap();
    studio
        .fill("#f-vendor_tax_id", "GB987654321")
        .await
        .unwrap();
    studio.click_button("Save my details").await.unwrap();
    studio
        .wait_for_url(&format!(
            "{appview}/person/{}?retainer=vendor",
            maintainer.did()
        ))
        .await
        .unwrap();
    studio.close().await;
    // The company signs in and asks for a quote for the middle tier, listed.
    let company = world
        .network
        .create_account("br-acme")
        .await
        .expect("account");
    let browser = Browser::launch(false).await.unwrap();
    browser.sign_in(&appview, &company).await.unwrap();
    browser.goto(&page).await.unwrap();
    browser
        .click("input[name=tier][value=Partner]")
        .await
        .unwrap();
    for (field, value) in [
        ("#f-legal_name", "Acme Corporation"),
        ("#f-tax_id", "US-12-3456789"),
        ("#f-purchase_order", "PO-2026-0042"),
    ] {
        browser.fill(field, value).await.unwrap();
    }
    // Two lines: typed keys have no newline, so the value is set as a paste would.
    browser
        .pick("#f-address", "1 Market Street\nSan Francisco, CA 94105")
        .await
        .unwrap();
    browser.click("input[name=listed]").await.unwrap();
    browser.click_button("Request a quote").await.unwrap();
    browser
        .wait_for_url(&format!("{appview}/retainers/agreement/"))
        .await
        .unwrap();
    let quote = browser.wait_for_text("Start the retainer").await.unwrap();
    assert!(quote.contains("Partner"), "{quote}");
    // The quote document, behind its capability address, names the company.
    let document = browser.href("a[href*='/documents/GLQ-']").await.unwrap();
    let document = reqwest::get(&document)
        .await
        .expect("quote document")
        .text()
        .await
        .expect("html");
    assert!(document.contains("Acme Corporation") && document.contains("PO-2026-0042"));
    assert!(
        document.contains("Tidepool Maintenance Ltd") && document.contains("GB987654321"),
        "the maintainer is the vendor, as she named herself"
    );

    // Starting it writes the public attribution to the company's own repository.
    browser.click_button("Start the retainer").await.unwrap();
    browser
        .wait_for_url(&format!("{appview}/person/"))
        .await
        .unwrap();
    let written = browser
        .written_uri()
        .await
        .expect("the retainer record's address");
    let rest = written.strip_prefix("at://").expect("at-uri");
    let parts: Vec<&str> = rest.splitn(3, '/').collect();
    let record = world
        .network
        .get_record(parts[0], parts[1], parts[2])
        .await
        .expect("getRecord")
        .expect("the record is in the company's repository")
        .value;
    assert_eq!(record["tier"], "Partner");
    assert_eq!(record["listedPublicly"], true);
    assert!(record["receipt"]
        .as_str()
        .is_some_and(|r| r.starts_with("ra_")));

    // The first invoice is paid on the provider's page.
    let pay = browser.href("a.button.pay").await.unwrap();
    // One's own page, without the note about the record just written (which refreshes
    // itself until the indexer has it).
    let own = browser.url().await.unwrap();
    let own = own.split('?').next().unwrap_or_default().to_owned();
    browser.goto(&pay).await.unwrap();
    browser.click_button("Complete payment").await.unwrap();
    browser.wait_for_text("Payment complete").await.unwrap();
    browser.goto(&own).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = browser.text().await.unwrap_or_default();
        if text.contains("Retainers you pay") && text.contains("paid") && !text.contains("Pay\n") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the invoice never showed paid:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser.goto(&own).await.unwrap();
    }
    browser
        .screenshot(&artifacts().join("retainer-client.png"))
        .await
        .unwrap();

    // The maintainer's page and badge name the company.
    let shown = public_page_shows(&page, &company.handle).await;
    assert!(shown.contains("Retained by"), "{shown}");
    let badge = reqwest::get(format!(
        "{appview}/badge/retainers/{}.svg",
        maintainer.did()
    ))
    .await
    .expect("badge")
    .text()
    .await
    .expect("svg");
    assert!(badge.contains("1 company"), "{badge}");
    let reader = Browser::launch(false).await.unwrap();
    reader.goto(&page).await.unwrap();
    reader.wait_for_text(&company.handle).await.unwrap();
    reader
        .screenshot(&artifacts().join("retainers.png"))
        .await
        .unwrap();
    reader.close().await;

    // The company cancels from its own page: the paid period runs to its end.
    browser.goto(&own).await.unwrap();
    browser.click_button("Cancel the retainer").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed: Value = reqwest::get(format!(
            "{appview}/xrpc/fund.greenlight.listRetainers?maintainer={}",
            maintainer.did()
        ))
        .await
        .expect("listRetainers")
        .json()
        .await
        .expect("json");
        if listed["retainers"][0]["state"] == "cancelling" {
            break;
        }
        assert!(Instant::now() < deadline, "never cancelling: {listed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.close().await;
    world.stop().await;
}
