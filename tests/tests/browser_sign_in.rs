//! Signing in is refused, with a clear page and nothing written, when it is not the real
//! thing: a forged or replayed OAuth callback, a callback without `iss` or from another
//! issuer, a callback in a browser that did not start the sign-in, a form posted from
//! another site or without its token, and a session that expired or whose tokens were
//! revoked. Real Chromium, the reference PDS's own authorization pages, the services as
//! processes.

use std::time::Duration;

use greenlight_tests::browser::Browser;
use greenlight_tests::network::Account;
use greenlight_tests::services::ServicesConfig;
use greenlight_tests::world::World;
use sqlx::PgPool;

/// How many records of `collection` are in `account`'s repository.
async fn records_in_repo(world: &World, account: &Account, collection: &str) -> usize {
    let url = format!(
        "{}/xrpc/com.atproto.repo.listRecords?repo={}&collection={collection}",
        world.network.pds_url(),
        account.did
    );
    let body: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    body["records"].as_array().map_or(0, Vec::len)
}

/// The one pending sign-in's OAuth `state` (as the authorization server would send it back).
async fn pending_state(db: &PgPool) -> String {
    sqlx::query_scalar("SELECT state FROM appview.oauth_state ORDER BY created_at DESC LIMIT 1")
        .fetch_one(db)
        .await
        .expect("a pending sign-in")
}

async fn refused(browser: &Browser, url: &str, says: &str) {
    browser.goto(url).await.unwrap();
    let text = browser.text().await.unwrap();
    assert!(
        text.contains("You are not signed in"),
        "{url} was not refused:\n{text}"
    );
    assert!(text.contains(says), "{url}: expected {says:?}:\n{text}");
    assert!(text.contains("Nothing was written"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_cross_site_requests_are_refused_and_write_nothing() {
    let world = World::start(ServicesConfig::default()).await;
    let appview = world.services.appview_url.clone();
    let db = PgPool::connect(&world.services.appview_database.url)
        .await
        .unwrap();
    let lena = world.network.create_account("lena").await.unwrap();
    let browser = Browser::launch(false).await.unwrap();
    let stranger = Browser::launch(false).await.unwrap();
    let callback = format!("{appview}/oauth/callback");
    let issuer = world.network.pds_url().trim_end_matches('/').to_owned();

    // A callback nobody started.
    refused(
        &browser,
        &format!("{callback}?code=forged&state=forged&iss={issuer}"),
        "not valid",
    )
    .await;

    // A real sign-in waits at the PDS; forged answers to it are refused without spoiling it.
    browser.start_sign_in(&appview, &lena).await.unwrap();
    let state = pending_state(&db).await;
    let pds_page = browser.url().await.unwrap();
    refused(
        &browser,
        &format!("{callback}?code=x&state={state}"),
        "does not say who issued it",
    )
    .await;
    refused(
        &browser,
        &format!("{callback}?code=x&state={state}&iss=https://evil.example"),
        "another authorization server",
    )
    .await;
    // The right state in a browser that did not start the sign-in.
    refused(
        &stranger,
        &format!("{callback}?code=x&state={state}&iss={issuer}"),
        "not valid",
    )
    .await;
    assert!(stranger.cookie("greenlight_session").await.is_none());
    // The real sign-in still completes.
    browser.goto(&pds_page).await.unwrap();
    browser.finish_sign_in(&appview, &lena).await.unwrap();
    // Replaying the callback (its state is single use) is refused.
    refused(
        &browser,
        &format!("{callback}?code=x&state={state}&iss={issuer}"),
        "not valid",
    )
    .await;
    // …and did not sign the browser out.
    browser.goto(&format!("{appview}/")).await.unwrap();
    browser.wait_for_text(&lena.handle).await.unwrap();

    // A proposal to act on.
    browser.goto(&format!("{appview}/propose")).await.unwrap();
    browser
        .fill("#f-repository", "https://code.example/lena/tool")
        .await
        .unwrap();
    browser.fill("#f-title", "Faster startup").await.unwrap();
    browser
        .fill("#f-body", "Start in under a second.")
        .await
        .unwrap();
    browser.click_button("Propose").await.unwrap();
    browser.wait_for_text("shown below").await.unwrap();
    let proposal_page = browser
        .url()
        .await
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let estimate_action = format!("{proposal_page}/estimate");

    // A page on another origin posting to Greenlight with the signed-in person's cookies.
    let hostile = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hostile_url = format!("http://127.0.0.1:{}/", hostile.local_addr().unwrap().port());
    let page = format!(
        "<!doctype html><form method=post action=\"{estimate_action}\"><input name=amount value=99><input name=csrf value=guessed></form><script>document.forms[0].submit()</script>"
    );
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(move || {
                let page = page.clone();
                async move { axum::response::Html(page) }
            }),
        );
        axum::serve(hostile, app).await.unwrap();
    });
    browser.goto(&hostile_url).await.unwrap();
    browser
        .wait_for_text("This form was refused")
        .await
        .unwrap();
    assert!(browser.text().await.unwrap().contains("another site"));

    // Our own origin, but without the form's token (a replayed or hand-made post).
    let session = browser
        .cookie("greenlight_session")
        .await
        .expect("signed in");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = http
        .post(&estimate_action)
        .header("cookie", format!("greenlight_session={session}"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("amount", "99"), ("csrf", "not-the-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("did not come from Greenlight"));

    // An expired session.
    sqlx::query("UPDATE appview.browser_session SET expires_at = now() - interval '1 second'")
        .execute(&db)
        .await
        .unwrap();
    let answer = http
        .post(&estimate_action)
        .header("cookie", format!("greenlight_session={session}"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("amount", "99"), ("csrf", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("Your sign-in has expired"));

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        records_in_repo(&world, &lena, "fund.greenlight.estimate").await,
        0
    );
    assert_eq!(
        records_in_repo(&world, &lena, "fund.greenlight.proposal").await,
        1
    );

    // Signing out revokes: the stored OAuth session is gone.
    sqlx::query("UPDATE appview.browser_session SET expires_at = now() + interval '1 day'")
        .execute(&db)
        .await
        .unwrap();
    browser.goto(&format!("{appview}/")).await.unwrap();
    browser.click_button("Sign out").await.unwrap();
    browser.wait_for_text("Sign in").await.unwrap();
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM appview.oauth_session")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(sessions, 0);

    browser.close().await;
    stranger.close().await;
    world.stop().await;
}
