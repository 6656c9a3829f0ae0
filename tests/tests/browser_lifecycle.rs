//! The lifecycle in a real browser: people sign in through their PDS's own OAuth pages
//! (handle and password typed into the PDS's form, consent given) and do everything from
//! Greenlight's pages, with the indexer, AppView and escrow running as processes on the
//! reference PDS. Each step checks what the page shows and that the record is in the
//! person's own repository. Screenshots land in `tests/artifacts/browser/`.
//!
//! Payments go through escrow's sandbox checkout page (the stand-in for Stripe Checkout),
//! which a person opens from our page; the test opens it in the same tab and pays there.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use greenlight_tests::browser::Browser;
use greenlight_tests::services::{repo_root, ServicesConfig};
use greenlight_tests::world::World;

fn artifacts() -> PathBuf {
    repo_root().join("tests/artifacts/browser")
}

/// The record `uri` exists in its author's repository on the PDS.
async fn in_repo(world: &World, uri: &str) -> serde_json::Value {
    let rest = uri.strip_prefix("at://").expect("an at:// URI");
    let mut parts = rest.splitn(3, '/');
    let (repo, collection, rkey) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    world
        .network
        .get_record(repo, collection, rkey)
        .await
        .expect("getRecord")
        .unwrap_or_else(|| panic!("{uri} is not in its author's repository"))
        .value
}

/// Submits the form whose submit button says `button` after filling `fields`, and waits
/// until the page confirms the write (the record shown), returning its URI.
async fn write(browser: &Browser, fields: &[(&str, &str)], button: &str) -> String {
    for (selector, value) in fields {
        browser.fill(selector, value).await.unwrap();
    }
    let before = browser.url().await.unwrap();
    browser.click_button(button).await.unwrap();
    left(browser, &before).await;
    let text = browser
        .wait_for_text("Saved to your repository")
        .await
        .unwrap();
    let shown = Instant::now() + Duration::from_secs(30);
    // "On its way" refreshes by itself until the indexer has it.
    while !browser
        .text()
        .await
        .unwrap_or_default()
        .contains("shown below")
    {
        assert!(
            !browser
                .text()
                .await
                .unwrap_or_default()
                .contains("does not count"),
            "a write was rejected:\n{text}"
        );
        assert!(Instant::now() < shown, "the write never showed:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .written_uri()
        .await
        .expect("the page names the written record")
}

/// Waits until the browser has left `before` (a form was submitted and answered).
async fn left(browser: &Browser, before: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while browser.url().await.unwrap_or_default() == before {
        assert!(
            Instant::now() < deadline,
            "the form never answered:\n{}",
            browser.text().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pays the pending payment whose checkout our page links to, as a person would in the
/// checkout tab, then goes to `back`.
async fn pay_at_checkout(browser: &Browser, back: &str) {
    let checkout = browser.href("a.button[target=_blank]").await.unwrap();
    browser.goto(&checkout).await.unwrap();
    browser.click_button("Complete payment").await.unwrap();
    browser.wait_for_text("Payment complete").await.unwrap();
    browser.goto(back).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_lifecycle_through_the_pages() {
    // Long enough to dispute from a page, short enough to see the payout.
    let world = World::start(ServicesConfig {
        verification_seconds: 20,
        ..ServicesConfig::default()
    })
    .await;
    let appview = world.services.appview_url.clone();
    let maya = world.network.create_account("maya").await.unwrap();
    let pat = world.network.create_account("pat").await.unwrap();
    let dana = world.network.create_account("dana").await.unwrap();
    let maya_b = Browser::launch(false).await.unwrap();
    let pat_b = Browser::launch(true).await.unwrap();
    let dana_b = Browser::launch(false).await.unwrap();

    maya_b
        .sign_in_recorded(&appview, &maya, &artifacts())
        .await
        .unwrap();
    pat_b.sign_in(&appview, &pat).await.unwrap();
    dana_b.sign_in(&appview, &dana).await.unwrap();

    // Maya creates her project and proves its repository.
    let repository = world.forge.repository_url(&maya.handle, "widget");
    maya_b.goto(&format!("{appview}/projects")).await.unwrap();
    let project = write(
        &maya_b,
        &[
            ("#f-name", "Widget"),
            ("#f-description", "A widget library."),
            ("#f-repository", &repository),
            ("#f-currency", "USD"),
            ("#f-maintainers", &dana.did),
        ],
        "Create project",
    )
    .await;
    assert_eq!(in_repo(&world, &project).await["name"], "Widget");
    maya_b.wait_for_text("Not proven").await.unwrap();
    world.forge.prove(&maya.handle, "widget", &project).unwrap();
    maya_b.click_button("Check now").await.unwrap();
    maya_b.wait_for_text("Proven.").await.unwrap();

    // Dana, invited as a maintainer, accepts from the project page.
    let project_path = maya_b.url().await.unwrap();
    let project_path = project_path.split(['?', '#']).next().unwrap().to_owned();
    dana_b.goto(&project_path).await.unwrap();
    dana_b
        .wait_for_text("You are invited to maintain this project")
        .await
        .unwrap();
    let acceptance = write(&dana_b, &[], "Accept invitation").await;
    assert_eq!(
        in_repo(&world, &acceptance).await["subject"]["uri"],
        project.as_str()
    );
    // Listed, and no longer only invited.
    let page = dana_b.text().await.unwrap();
    assert!(
        !page.contains("Invited, not yet accepted") && !page.contains("You are invited"),
        "{page}"
    );

    // Pat proposes a feature from the project page and estimates it.
    let project_page = maya_b.url().await.unwrap();
    let project_page = project_page.split(['?', '#']).next().unwrap().to_owned();
    pat_b.goto(&project_page).await.unwrap();
    let proposal = write(
        &pat_b,
        &[
            ("#f-title", "Dark mode"),
            ("#f-body", "Please add a dark theme."),
        ],
        "Propose",
    )
    .await;
    assert_eq!(in_repo(&world, &proposal).await["title"], "Dark mode");
    pat_b
        .wait_for_text("Your estimates count up to")
        .await
        .unwrap_or_default();
    let estimate = write(&pat_b, &[("#f-amount", "20")], "Estimate").await;
    assert_eq!(in_repo(&world, &estimate).await["amount"], 2000);
    pat_b.wait_for_text("You estimated $20.").await.unwrap();
    let proposal_page = pat_b
        .url()
        .await
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();

    // Maya takes it into development; Dana donates.
    maya_b.goto(&proposal_page).await.unwrap();
    write(&maya_b, &[("#f-goal", "100")], "Start development").await;
    maya_b.wait_for_text("In development").await.unwrap();
    dana_b.goto(&proposal_page).await.unwrap();
    dana_b.fill("#f-gift_amount", "10").await.unwrap();
    dana_b.click_button("Donate").await.unwrap();
    dana_b.wait_for_text("Pay your donation").await.unwrap();
    pay_at_checkout(&dana_b, &proposal_page).await;

    // The preview: Pat and Dana back it through the checkout; Dana cancels.
    maya_b.goto(&proposal_page).await.unwrap();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    maya_b.pick("#f-ends", &tomorrow).await.unwrap();
    write(
        &maya_b,
        &[
            ("#f-url", "https://preview.example/dark"),
            ("#f-instructions", "Toggle the theme."),
        ],
        "Publish preview",
    )
    .await;
    for (browser, amount) in [(&pat_b, "30"), (&dana_b, "15")] {
        browser.goto(&proposal_page).await.unwrap();
        browser.fill("#f-gift_amount", amount).await.unwrap();
        browser.click_button("Pledge").await.unwrap();
        browser.wait_for_text("Pay your pledge").await.unwrap();
        let pledge_page = browser.url().await.unwrap();
        pay_at_checkout(browser, &pledge_page).await;
        browser
            .wait_for_text("Saved to your repository")
            .await
            .unwrap();
        let pledge = browser.written_uri().await.expect("the pledge record");
        let record = in_repo(&world, &pledge).await;
        assert_eq!(record["amount"], amount.parse::<i64>().unwrap() * 100);
    }
    pat_b
        .screenshot(&artifacts().join("backed.png"))
        .await
        .unwrap();
    dana_b.goto(&proposal_page).await.unwrap();
    dana_b.wait_for_text("Your pledges").await.unwrap();
    dana_b.click_button("Cancel pledge").await.unwrap();
    dana_b
        .wait_for_text("Deleted from your repository")
        .await
        .unwrap();

    // The release, the payout account, and the payout after verification.
    maya_b.goto(&proposal_page).await.unwrap();
    write(
        &maya_b,
        &[
            ("#f-source_url", "https://code.example/widget/dark"),
            ("#f-license", "MIT"),
        ],
        "Release",
    )
    .await;
    maya_b
        .goto(&format!("{appview}/person/{}", maya.did))
        .await
        .unwrap();
    maya_b.click_button("Connect payout account").await.unwrap();
    maya_b
        .wait_for_text("Your payout account is")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        maya_b
            .goto(&format!("{appview}/person/{}", maya.did))
            .await
            .unwrap();
        let text = maya_b.text().await.unwrap();
        // Pat's 30.00 (Dana's 15.00 was cancelled): no longer held, paid out.
        if text.contains("Widget\t$0\t$30") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no payout on Maya's page:\n{text}\n{}",
            world.services.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    maya_b
        .screenshot(&artifacts().join("maintainer.png"))
        .await
        .unwrap();

    // Pat's own page: what Pat proposed, estimated and pledged, with escrow's receipt.
    pat_b
        .goto(&format!("{appview}/person/{}", pat.did))
        .await
        .unwrap();
    let own = pat_b.wait_for_text("Your pledges").await.unwrap();
    assert!(own.contains("Dark mode: $20"), "{own}");
    assert!(own.contains("Dark mode: $30 (escrow receipt"), "{own}");

    // A second proposal: released, disputed by its backer from the page, upheld by escrow's
    // operator, refunded.
    pat_b.goto(&project_page).await.unwrap();
    let second = write(
        &pat_b,
        &[
            ("#f-title", "Plugin API"),
            ("#f-body", "Let plugins hook in."),
        ],
        "Propose",
    )
    .await;
    assert_eq!(in_repo(&world, &second).await["title"], "Plugin API");
    let second_page = pat_b
        .url()
        .await
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    maya_b.goto(&second_page).await.unwrap();
    write(&maya_b, &[("#f-goal", "50")], "Start development").await;
    maya_b.pick("#f-ends", &tomorrow).await.unwrap();
    write(
        &maya_b,
        &[
            ("#f-url", "https://preview.example/plugins"),
            ("#f-instructions", "Load a plugin."),
        ],
        "Publish preview",
    )
    .await;
    pat_b.goto(&second_page).await.unwrap();
    pat_b.fill("#f-gift_amount", "40").await.unwrap();
    pat_b.click_button("Pledge").await.unwrap();
    pat_b.wait_for_text("Pay your pledge").await.unwrap();
    let pledge_page = pat_b.url().await.unwrap();
    pay_at_checkout(&pat_b, &pledge_page).await;
    pat_b
        .wait_for_text("Saved to your repository")
        .await
        .unwrap();
    maya_b.goto(&second_page).await.unwrap();
    write(
        &maya_b,
        &[
            ("#f-source_url", "https://code.example/widget/plugins"),
            ("#f-license", "MIT"),
        ],
        "Release",
    )
    .await;
    // Escrow learns of the release from the AppView; until then it refuses the dispute and
    // the page says so, keeping what was typed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let dispute = loop {
        pat_b.goto(&second_page).await.unwrap();
        pat_b.wait_for_text("Dispute the release").await.unwrap();
        pat_b
            .fill("#f-reason", "The plugin API is missing.")
            .await
            .unwrap();
        let before = pat_b.url().await.unwrap();
        pat_b.click_button("File dispute").await.unwrap();
        left(&pat_b, &before).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Some(uri) = pat_b.written_uri().await {
            break uri;
        }
        let text = pat_b.text().await.unwrap();
        assert!(
            text.contains("The plugin API is missing."),
            "the form lost what was typed:\n{text}"
        );
        assert!(
            Instant::now() < deadline,
            "escrow never took the dispute:\n{text}"
        );
    };
    assert_eq!(
        in_repo(&world, &dispute).await["reason"],
        "The plugin API is missing."
    );
    let escrow_db = sqlx::PgPool::connect(&world.services.escrow_database.url)
        .await
        .unwrap();
    let dispute_id: String =
        sqlx::query_scalar("SELECT id FROM escrow.dispute WHERE proposal = $1")
            .bind(&second)
            .fetch_one(&escrow_db)
            .await
            .unwrap();
    world
        .escrow
        .resolve_dispute(
            &world.services.admin_password,
            &dispute_id,
            "upheld",
            "The release lacks the plugin API.",
            "browser-upheld",
        )
        .await
        .expect("resolve");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        pat_b.goto(&second_page).await.unwrap();
        let text = pat_b.text().await.unwrap();
        if text.contains("Refunded\n$40") || text.contains("REFUNDED\n$40") {
            break;
        }
        assert!(Instant::now() < deadline, "no refund shown:\n{text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    for browser in [maya_b, pat_b, dana_b] {
        browser.close().await;
    }
    world.stop().await;
}
