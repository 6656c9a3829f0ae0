//! Badges, widgets and oEmbed over a seeded database: content types, caching, escaping.

mod showcase;
mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use showcase::*;
use sqlx::PgPool;
use support::*;

fn header_of(reply: &Reply, name: header::HeaderName) -> String {
    reply
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn text(reply: &Reply) -> String {
    String::from_utf8(reply.raw.clone()).unwrap()
}

/// Every `href`/`src` value is one of ours or a plain web URL.
pub fn assert_links_are_safe(html: &str) {
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

#[sqlx::test(migrations = "../migrations")]
async fn proposal_badge_is_small_cached_well_formed_svg(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    let path = format!("{}/badge.svg", page_of(&world.preview));
    let reply = get(&router, &path).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        header_of(&reply, header::CONTENT_TYPE),
        "image/svg+xml; charset=utf-8"
    );
    assert!(header_of(&reply, header::CACHE_CONTROL).starts_with("public, max-age="));
    let etag = header_of(&reply, header::ETAG);
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let svg = text(&reply);
    assert!(svg.len() < 2048, "badge is {} bytes", svg.len());
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(texts, ["greenlight", "funded $1,240 / $5,000"]);
    // Preview stage colour.
    assert!(svg.contains("#a14a00"));

    let again = get_with(
        &router,
        Request::get(&path)
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.raw.is_empty());
    assert_eq!(header_of(&again, header::ETAG), etag);
}

#[sqlx::test(migrations = "../migrations")]
async fn badges_follow_stage_and_projects_sum_their_proposals(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    let message = |svg: &str| {
        let doc = roxmltree::Document::parse(svg).unwrap();
        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::to_owned))
            .collect();
        texts[1].clone()
    };
    let released = get(&router, &format!("{}/badge.svg", page_of(&world.released))).await;
    assert_eq!(message(&text(&released)), "released · $500 funded");
    let declined = get(&router, &format!("{}/badge.svg", page_of(&world.declined))).await;
    assert_eq!(message(&text(&declined)), "declined");
    let hostile = get(&router, &format!("{}/badge.svg", page_of(&world.hostile))).await;
    assert_eq!(message(&text(&hostile)), "$15 estimated");
    let project = get(&router, &format!("{}/badge.svg", page_of(&world.project))).await;
    assert_eq!(project.status, StatusCode::OK);
    assert_eq!(message(&text(&project)), "$1,740 pledged · 4 proposals");

    let missing = get(&router, "/proposal/did:plc:nobody/3kzzzzzzzzzzz/badge.svg").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(message(&text(&missing)), "not found");
    assert_eq!(header_of(&missing, header::CACHE_CONTROL), "no-store");
    let malformed = get(&router, "/proposal/not-a-did/x/badge.svg").await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn widget_is_framable_html_without_scripts(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    let page = page_of(&world.preview);
    let reply = get(&router, &format!("{page}/widget")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        header_of(&reply, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(!header_of(&reply, header::ETAG).is_empty());
    assert!(header_of(&reply, header::CACHE_CONTROL).starts_with("public"));
    let csp = header_of(&reply, header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("frame-ancestors"),
        "widgets must be framable: {csp}"
    );
    let html = text(&reply);
    assert!(html.len() < 6 * 1024, "widget is {} bytes", html.len());
    assert!(html.contains("Offline sync for mobile"));
    assert!(html.contains("In preview"));
    assert!(html.contains("<strong>$1,240</strong> pledged of $5,000 goal"));
    assert!(html.contains("<progress max=\"100\" value=\"24\""));
    assert!(html.contains("3 backers"));
    assert!(html.contains("$70 estimated by 3 people"), "{html}");
    assert!(html.contains(&format!("href=\"http://localhost:2584{page}\"")));
    assert!(!html.contains("<script"));
    assert!(!html.contains("<link"), "no external assets");
    assert_links_are_safe(&html);

    let project = get(&router, &format!("{}/widget", page_of(&world.project))).await;
    assert_eq!(project.status, StatusCode::OK);
    assert!(text(&project).contains("Tessera"));
    assert!(text(&project).contains("4 proposals"));
}

#[sqlx::test(migrations = "../migrations")]
async fn hostile_titles_stay_text_in_widgets(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    for uri in [&world.hostile, &world.hostile_repo] {
        let html = text(&get(&router, &format!("{}/widget", page_of(uri))).await);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"));
        assert!(html.contains("&quot;Sync&quot; &amp; &lt;b&gt;more&lt;/b&gt;"));
        assert_links_are_safe(&html);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn oembed_answers_rich_iframes_per_the_spec(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    let page_url = format!("http://localhost:2584{}", page_of(&world.hostile));
    let reply = get(
        &router,
        &format!("/oembed?url={}&format=json", enc(&page_url)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(header_of(&reply, header::CONTENT_TYPE).starts_with("application/json"));
    assert!(!header_of(&reply, header::ETAG).is_empty());
    let body = &reply.body;
    assert_eq!(body["version"], "1.0");
    assert_eq!(body["type"], "rich");
    assert_eq!(body["provider_name"], "Greenlight");
    assert_eq!(body["title"], HOSTILE_TITLE);
    assert_eq!(body["width"], 400);
    assert_eq!(body["height"], 210);
    let html = body["html"].as_str().unwrap();
    assert!(
        html.starts_with(&format!("<iframe src=\"{page_url}/widget\"")),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert_eq!(
        html.matches('<').count(),
        2,
        "one iframe and its end tag: {html}"
    );

    let narrow = get(
        &router,
        &format!("/oembed?url={}&maxwidth=300&maxheight=150", enc(&page_url)),
    )
    .await;
    assert_eq!(narrow.body["width"], 300);
    assert_eq!(narrow.body["height"], 150);
    let tiny = get(
        &router,
        &format!("/oembed?url={}&maxwidth=100", enc(&page_url)),
    )
    .await;
    assert_eq!(
        tiny.body["width"], 100,
        "never wider than the consumer allows"
    );

    let xml = get(
        &router,
        &format!("/oembed?url={}&format=xml", enc(&page_url)),
    )
    .await;
    assert_eq!(xml.status, StatusCode::NOT_IMPLEMENTED);
    let foreign = get(
        &router,
        &format!(
            "/oembed?url={}",
            enc("https://evil.example/proposal/did:plc:a/b")
        ),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let missing = get(&router, "/oembed?format=json").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);

    let project_url = format!("http://localhost:2584{}", page_of(&world.project));
    let project = get(&router, &format!("/oembed?url={}", enc(&project_url))).await;
    assert_eq!(project.status, StatusCode::OK);
    assert_eq!(project.body["title"], "Tessera");
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_advertise_their_oembed(pool: PgPool) {
    let world = seed(&Seed::new(pool.clone())).await;
    let (_, router) = app(pool);
    for uri in [&world.preview, &world.project] {
        let page = page_of(uri);
        let html = text(&get(&router, &page).await);
        let expected = format!(
            "<link rel=\"alternate\" type=\"application/json+oembed\" href=\"http://localhost:2584/oembed?format=json&amp;url={}\"",
            enc(&format!("http://localhost:2584{page}"))
        );
        assert!(html.contains(&expected), "{html}");
    }
}
