//! Pages and widgets in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/chromium` when missing) loads each from a running AppView with seeded data,
//! checks what it rendered, checks that a hostile title stays text, and saves screenshots
//! under `tests/artifacts/`.

mod showcase;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use greenlight_appview::{AppView, Config};
use showcase::*;
use sqlx::PgPool;
use support::*;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Chromium binary, installed first if needed.
async fn chromium() -> PathBuf {
    let output = tokio::process::Command::new(repo_root().join("scripts/chromium"))
        .output()
        .await
        .expect("run scripts/chromium");
    assert!(
        output.status.success(),
        "scripts/chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

struct Browser {
    binary: PathBuf,
    artifacts: PathBuf,
}

impl Browser {
    async fn run(&self, extra: &[String], url: &str) -> String {
        let profile = tempfile::tempdir().unwrap();
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(url)
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(90), command.output())
            .await
            .expect("chromium took too long")
            .expect("run chromium");
        assert!(
            output.status.success(),
            "chromium failed on {url}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The DOM after the page loaded, serialized.
    async fn dom(&self, url: &str) -> String {
        self.run(&["--dump-dom".to_owned()], url).await
    }

    /// Saves a screenshot of `url` at `width`×`height` as `tests/artifacts/<name>.png`.
    async fn screenshot(&self, url: &str, name: &str, width: u32, height: u32) -> PathBuf {
        let file = self.artifacts.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        self.run(
            &[
                format!("--screenshot={}", file.display()),
                format!("--window-size={width},{height}"),
            ],
            url,
        )
        .await;
        let bytes = std::fs::read(&file).expect("screenshot written");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is a PNG");
        assert!(bytes.len() > 2_000, "{name} is not blank");
        file
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_and_widgets_render_in_chromium(pool: PgPool) {
    let binary = chromium().await;
    let world = seed(&Seed::new(pool.clone())).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = AppView::new(
        pool,
        Config::new(format!("http://127.0.0.1:{}", addr.port())),
    )
    .unwrap();
    tokio::spawn(app.serve(listener));
    let base = format!("http://127.0.0.1:{}", addr.port());
    let artifacts = repo_root().join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let browser = Browser { binary, artifacts };

    // Explore.
    let explore = browser.dom(&format!("{base}/")).await;
    assert!(explore.contains("Explore proposals"), "{explore}");
    assert!(explore.contains("Offline sync for mobile"));
    browser
        .screenshot(&format!("{base}/?sort=pledged"), "explore", 1100, 1400)
        .await;
    browser
        .screenshot(&format!("{base}/?sort=pledged"), "explore-phone", 390, 1400)
        .await;

    // The proposal a backer reads.
    let proposal_url = format!("{base}{}", page_of(&world.preview));
    let proposal = browser.dom(&proposal_url).await;
    for needed in [
        "<h1>Offline sync for mobile</h1>",
        "Before you back this",
        "@ada.test",
        "goal of $5,000",
        "https://preview.example.com",
        "every pledge is refunded in full",
        "5% platform fee",
    ] {
        assert!(proposal.contains(needed), "missing {needed:?} in the DOM");
    }
    browser
        .screenshot(&proposal_url, "proposal", 1100, 2600)
        .await;
    browser
        .screenshot(&proposal_url, "proposal-phone", 390, 3400)
        .await;
    // The top of the page at a README-friendly size: what a backer sees first.
    browser
        .screenshot(&proposal_url, "proposal-top", 900, 1500)
        .await;
    let released_url = format!("{base}{}", page_of(&world.released));
    assert!(browser.dom(&released_url).await.contains("License MIT"));
    browser
        .screenshot(&released_url, "proposal-released", 1100, 2400)
        .await;

    // A hostile title is shown as text: escaped in the DOM, no element injected.
    for uri in [&world.hostile, &world.hostile_repo] {
        let url = format!("{base}{}", page_of(uri));
        let dom = browser.dom(&url).await;
        assert!(
            dom.contains(
                "<h1>&lt;script&gt;alert('pwned')&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; \"Sync\" &amp; &lt;b&gt;more&lt;/b&gt;</h1>"
            ),
            "{dom}"
        );
        assert!(!dom.contains("<script"), "a script element exists: {dom}");
        assert!(
            !dom.contains("<img src=\"x\""),
            "an img was injected: {dom}"
        );
        assert!(!dom.contains("<b>more</b>"));
        assert!(!dom.to_ascii_lowercase().contains("href=\"javascript"));
    }
    browser
        .screenshot(
            &format!("{base}{}", page_of(&world.hostile_repo)),
            "proposal-hostile",
            1100,
            1800,
        )
        .await;

    // Project and person.
    let project_url = format!("{base}{}", page_of(&world.project));
    let project = browser.dom(&project_url).await;
    assert!(project.contains("<h1>Tessera</h1>"));
    browser
        .screenshot(&project_url, "project", 1100, 1800)
        .await;
    let person_url = format!("{base}/person/alice.test");
    let person = browser.dom(&person_url).await;
    assert!(person.contains("<h1>@alice.test</h1>"));
    assert!(person.contains("Estimate cap"));
    browser.screenshot(&person_url, "person", 1100, 1200).await;

    // Widgets, at the size oEmbed suggests.
    let widget_url = format!("{proposal_url}/widget");
    let widget = browser.dom(&widget_url).await;
    assert!(widget.contains("Offline sync for mobile"));
    assert!(widget.contains("$1,240"));
    browser.screenshot(&widget_url, "widget", 400, 210).await;
    let hostile_widget = browser
        .dom(&format!("{base}{}/widget", page_of(&world.hostile)))
        .await;
    assert!(hostile_widget.contains("&lt;script&gt;alert('pwned')&lt;/script&gt;"));
    assert!(!hostile_widget.contains("<script"));
    assert!(!hostile_widget.contains("<img"));
    browser
        .screenshot(
            &format!("{base}{}/widget", page_of(&world.project)),
            "widget-project",
            400,
            210,
        )
        .await;

    // The badge: well-formed SVG over HTTP, and it draws.
    let badge_url = format!("{proposal_url}/badge.svg");
    let svg = reqwest::get(&badge_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the badge is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    browser.screenshot(&badge_url, "badge", 260, 40).await;
}
