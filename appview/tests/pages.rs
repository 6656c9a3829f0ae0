//! Server-rendered pages over a seeded database: what a backer must see, escaping, caching.

mod showcase;
mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use showcase::*;
use sqlx::PgPool;
use support::*;

fn html(reply: &Reply) -> String {
    String::from_utf8(reply.raw.clone()).unwrap()
}

fn header_of(reply: &Reply, name: header::HeaderName) -> String {
    reply
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Every `href`/`src` value is one of ours or a plain web URL.
fn assert_links_are_safe(html: &str) {
    for attr in ["href=\"", "src=\""] {
        for (i, _) in html.match_indices(attr) {
            let value = &html[i + attr.len()..];
            let value = &value[..value.find('"').unwrap()];
            assert!(
                value.starts_with('/')
                    || value.starts_with("http://")
                    || value.starts_with("https://")
                    || value.starts_with('#'),
                "unsafe link {value:?}"
            );
        }
    }
}

async fn page(router: &axum::Router, path: &str) -> String {
    let reply = get(router, path).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", html(&reply));
    assert_eq!(
        header_of(&reply, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(!header_of(&reply, header::ETAG).is_empty());
    let csp = header_of(&reply, header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    let body = html(&reply);
    assert!(body.starts_with("<!doctype html><html lang=\"en\">"));
    assert!(!body.contains("<script"), "{path} has a script");
    assert_links_are_safe(&body);
    body
}

#[sqlx::test(migrations = "../migrations")]
async fn proposal_page_tells_a_backer_what_they_need(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    let body = page(&router, &page_of(&world.preview)).await;
    for needed in [
        "<h1>Offline sync for mobile</h1>",
        // Who builds it.
        "Who builds it",
        ">@ada.test</a> maintains <a href=\"/project/did:plc:owner/tessera\">Tessera</a>",
        ">@grace.test</a>",
        "https://git.example.com/tessera",
        // What was promised.
        "What is promised",
        "goal of $5,000",
        // Where the preview is.
        "Where to try it",
        "href=\"https://preview.example.com\"",
        "Try it.",
        // What happens to the money.
        "If the release never comes",
        "within 7 days after the preview ends, every pledge is refunded in full",
        "14-day verification period",
        "minus a 5% platform fee",
        // Progress and lists.
        "<strong>$1,240</strong> pledged of a $5,000 goal",
        "value=\"24\"",
        "Taking pledges",
        ">@fan-one.test</a>",
        "<span class=\"note\">capped</span>",
        "Held",
        "Timeline",
        "aria-current=\"step\"",
        "/badge.svg",
        "/widget",
    ] {
        assert!(body.contains(needed), "missing {needed:?}\n{body}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn released_and_declined_pages_show_outcomes_and_disputes(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    let released = page(&router, &page_of(&world.released)).await;
    for needed in [
        "href=\"https://example.com/src\"",
        "License MIT",
        "<code>abc123</code>",
        "Holding pledges during verification",
        "This proposal's verification ends",
        "Disputes",
        "The release is missing the &lt;i&gt;ex&lt;/i&gt; commands.",
        "href=\"https://git.example.com/tessera/issues/9\"",
    ] {
        assert!(released.contains(needed), "missing {needed:?}\n{released}");
    }
    assert!(!released.contains("<i>ex</i>"));

    let declined = page(&router, &page_of(&world.declined)).await;
    assert!(declined.contains("Out of scope for a &lt;b&gt;local-first&lt;/b&gt; editor."));
    assert!(declined.contains("Every pledge is refunded."));
    assert!(declined.contains("Declined"));
}

#[sqlx::test(migrations = "../migrations")]
async fn hostile_titles_and_links_are_text_everywhere(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    let escaped =
        "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;";
    for path in [
        page_of(&world.hostile),
        page_of(&world.hostile_repo),
        page_of(&world.project),
        "/?sort=new".to_owned(),
        "/person/did:plc:mallory".to_owned(),
    ] {
        let body = page(&router, &path).await;
        assert!(!body.contains("<img src=x"), "{path}");
        if !path.starts_with("/person") {
            assert!(body.contains(escaped), "{path}: {body}");
        }
    }
    let repo = page(&router, &page_of(&world.hostile_repo)).await;
    // The `javascript:` repository is shown, never linked.
    assert!(repo.contains("<span class=\"unsafe-url\">javascript:alert(1)//</span>"));
    assert!(!repo.to_ascii_lowercase().contains("href=\"javascript"));
    // The title in <title> is escaped too.
    assert!(repo.contains(&format!("<title>{escaped}")));
}

#[sqlx::test(migrations = "../migrations")]
async fn explore_filters_by_stage_and_sorts(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    let all = page(&router, "/").await;
    assert!(all.contains("Explore proposals"));
    for title in [
        "Offline sync for mobile",
        "Vim key bindings",
        "Blockchain storage",
    ] {
        assert!(all.contains(title), "{title}");
    }
    let preview = page(&router, "/?stage=preview").await;
    assert!(preview.contains("Offline sync for mobile"));
    assert!(!preview.contains("Vim key bindings"));
    assert!(preview.contains("<a href=\"/?sort=top&amp;stage=preview\" aria-current=\"page\">"));

    let pledged = page(&router, "/?sort=pledged").await;
    let first = pledged.find("Offline sync for mobile").unwrap();
    let second = pledged.find("Vim key bindings").unwrap();
    let third = pledged.find("Blockchain storage").unwrap();
    assert!(first < second && second < third);
    assert!(pledged.contains(&page_of(&world.preview)));

    let bad = get(&router, "/?sort=sideways").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(html(&bad).contains("This address is not valid"));
}

#[sqlx::test(migrations = "../migrations")]
async fn project_and_person_pages(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    let project = page(&router, &page_of(&world.project)).await;
    for needed in [
        "<h1>Tessera</h1>",
        "A fast, local-first note editor.",
        "href=\"https://git.example.com/tessera\"",
        "href=\"https://tessera.example.com\"",
        ">@ada.test</a>, <a href=\"/person/grace.test\">@grace.test</a>",
        "$1,740",
        "Offline sync for mobile",
        "How backing works",
        "within 7 days after the preview ends, every pledge is refunded in full",
        "minus a 5% platform fee",
    ] {
        assert!(project.contains(needed), "missing {needed:?}\n{project}");
    }

    let alice = page(&router, "/person/alice.test").await;
    assert!(alice.contains("<h1>@alice.test</h1>"));
    assert!(alice.contains("did:plc:alice"));
    assert!(alice.contains("Estimate cap"));
    assert!(alice.contains("$25"));
    let ada = page(&router, "/person/did:plc:owner").await;
    assert!(ada.contains("<a href=\"/project/did:plc:owner/tessera\">Tessera</a>"));

    let nobody = get(&router, "/person/nobody.test").await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    assert!(html(&nobody).contains("Not found"));
    let missing = get(&router, "/proposal/did:plc:alice/3kzzzzzzzzzzz").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn stylesheet_is_cached_for_long_with_an_etag(pool: PgPool) {
    let (_, router) = app(pool);
    let home = page(&router, "/").await;
    let start = home.find("/static/greenlight.css?v=").unwrap();
    let href = &home[start..start + home[start..].find('"').unwrap()];
    let css = get(&router, href).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(
        header_of(&css, header::CONTENT_TYPE),
        "text/css; charset=utf-8"
    );
    assert_eq!(
        header_of(&css, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    let etag = header_of(&css, header::ETAG);
    let again = get_with(
        &router,
        Request::get(href)
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    // XRPC keeps its conventions next to the pages.
    let unknown = get(&router, "/xrpc/fund.greenlight.nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_IMPLEMENTED);
}
