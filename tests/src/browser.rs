//! A person's browser for end-to-end tests: real headless Chromium (Debian's `chromium`,
//! installed by `scripts/chromium` when missing) driven through `chromiumoxide`. Each
//! [`Browser`] has its own profile, so two people never share cookies.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use chromiumoxide::browser::{Browser as Chromium, BrowserConfig};
use chromiumoxide::Page;
use futures_util::StreamExt;

use crate::services::repo_root;

/// How long a page may take to show what a step waits for.
pub const PAGE_WAIT: Duration = Duration::from_secs(30);

/// The Chromium binary, installed first if needed.
pub async fn chromium_binary() -> Result<PathBuf> {
    let output = tokio::process::Command::new(repo_root().join("scripts/chromium"))
        .output()
        .await
        .context("running scripts/chromium")?;
    if !output.status.success() {
        bail!(
            "scripts/chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(PathBuf::from(String::from_utf8(output.stdout)?.trim()))
}

/// One person's browser with one tab.
pub struct Browser {
    chromium: Chromium,
    handler: tokio::task::JoinHandle<()>,
    /// The tab.
    pub page: Page,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh headless Chromium with its own profile, at phone width when `phone`.
    pub async fn launch(phone: bool) -> Result<Browser> {
        let binary = chromium_binary().await?;
        let profile = tempfile::tempdir()?;
        let (width, height) = if phone { (390, 844) } else { (1200, 900) };
        let config = BrowserConfig::builder()
            .chrome_executable(binary)
            .user_data_dir(profile.path())
            .no_sandbox()
            .new_headless_mode()
            .window_size(width, height)
            .request_timeout(PAGE_WAIT)
            .args([
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
            ])
            .build()
            .map_err(|error| anyhow!("browser configuration: {error}"))?;
        let (chromium, mut events) = Chromium::launch(config)
            .await
            .context("launching Chromium")?;
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        let page = chromium
            .new_page("about:blank")
            .await
            .context("opening a tab")?;
        Ok(Browser {
            chromium,
            handler,
            page,
            _profile: profile,
        })
    }

    /// Goes to `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.page
            .goto(url)
            .await
            .with_context(|| format!("loading {url}"))?;
        self.page.wait_for_navigation().await?;
        Ok(())
    }

    /// The address shown.
    pub async fn url(&self) -> Result<String> {
        Ok(self.page.url().await?.unwrap_or_default())
    }

    /// The page's visible text.
    pub async fn text(&self) -> Result<String> {
        let text: String = self
            .page
            .evaluate("document.body ? document.body.innerText : ''")
            .await?
            .into_value()?;
        Ok(text)
    }

    /// The page's HTML (for failure messages).
    pub async fn html(&self) -> String {
        self.page.content().await.unwrap_or_default()
    }

    /// Waits until an element matches `selector`.
    pub async fn wait_for(&self, selector: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + PAGE_WAIT;
        loop {
            if self.page.find_element(selector).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "no {selector} on {} after {PAGE_WAIT:?}:\n{}",
                    self.url().await.unwrap_or_default(),
                    self.text().await.unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) -> Result<String> {
        let deadline = tokio::time::Instant::now() + PAGE_WAIT;
        loop {
            let text = self.text().await.unwrap_or_default();
            if text.contains(needle) {
                return Ok(text);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "{needle:?} never appeared on {}:\n{text}",
                    self.url().await.unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the field matching `selector` (after clearing it).
    pub async fn fill(&self, selector: &str, text: &str) -> Result<()> {
        self.wait_for(selector).await?;
        let element = self.page.find_element(selector).await?;
        element.click().await?;
        element
            .call_js_fn("function() { this.value = ''; }", false)
            .await?;
        element.type_str(text).await?;
        Ok(())
    }

    /// Sets the value of the field matching `selector` as its picker would (date inputs take
    /// typed digits in the locale's order, which a test should not depend on).
    pub async fn pick(&self, selector: &str, value: &str) -> Result<()> {
        self.wait_for(selector).await?;
        self.page
            .find_element(selector)
            .await?
            .call_js_fn(
                format!(
                    "function() {{ this.value = {}; }}",
                    serde_json::to_string(value)?
                ),
                false,
            )
            .await?;
        Ok(())
    }

    /// Clicks the element matching `selector`.
    pub async fn click(&self, selector: &str) -> Result<()> {
        self.wait_for(selector).await?;
        self.page.find_element(selector).await?.click().await?;
        Ok(())
    }

    /// Clicks the button whose text is `label` (exactly, trimmed).
    pub async fn click_button(&self, label: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + PAGE_WAIT;
        loop {
            for button in self.page.find_elements("button").await.unwrap_or_default() {
                let text = button.inner_text().await.ok().flatten().unwrap_or_default();
                if text.trim() == label {
                    button.click().await?;
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "no button {label:?} on {}:\n{}",
                    self.url().await.unwrap_or_default(),
                    self.text().await.unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the address starts with `prefix`.
    pub async fn wait_for_url(&self, prefix: &str) -> Result<String> {
        let deadline = tokio::time::Instant::now() + PAGE_WAIT;
        loop {
            let url = self.url().await.unwrap_or_default();
            if url.starts_with(prefix) {
                return Ok(url);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "never reached {prefix} (at {url}):\n{}",
                    self.text().await.unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs `account` in to the AppView at `appview` the way a person does: the sign-in
    /// page, then the PDS's own OAuth pages (password typed into its form, consent given),
    /// back to Greenlight signed in.
    pub async fn sign_in(&self, appview: &str, account: &crate::network::Account) -> Result<()> {
        self.start_sign_in(appview, account).await?;
        self.finish_sign_in(appview, account).await
    }

    /// [`Browser::sign_in`], saving screenshots of Greenlight's sign-in page and of the
    /// PDS's consent page in `dir` (for the README).
    pub async fn sign_in_recorded(
        &self,
        appview: &str,
        account: &crate::network::Account,
        dir: &std::path::Path,
    ) -> Result<()> {
        self.goto(&format!("{appview}/sign-in")).await?;
        self.fill("#f-identifier", &account.handle).await?;
        self.screenshot(&dir.join("sign-in.png")).await?;
        self.click_button("Sign in").await?;
        self.fill("input[name=password]", &account.password).await?;
        self.click_button("Sign in").await?;
        self.wait_for_text("Grant access to your account").await?;
        self.screenshot(&dir.join("consent.png")).await?;
        self.click_button("Authorize").await?;
        self.wait_for_url(appview).await?;
        self.wait_for_text(&account.handle).await?;
        Ok(())
    }

    /// Greenlight's sign-in form, up to the PDS's authorization page.
    pub async fn start_sign_in(
        &self,
        appview: &str,
        account: &crate::network::Account,
    ) -> Result<()> {
        self.goto(&format!("{appview}/sign-in")).await?;
        self.fill("#f-identifier", &account.handle).await?;
        self.click_button("Sign in").await?;
        // The PDS's authorization page (a script-driven page of its own).
        self.wait_for("input[name=password]").await
    }

    /// On the PDS's authorization page: the password, consent, and back to Greenlight.
    pub async fn finish_sign_in(
        &self,
        appview: &str,
        account: &crate::network::Account,
    ) -> Result<()> {
        self.fill("input[name=password]", &account.password).await?;
        self.click_button("Sign in").await?;
        self.wait_for_text("Grant access to your account").await?;
        self.click_button("Authorize").await?;
        self.wait_for_url(appview).await?;
        self.wait_for_text(&account.handle).await?;
        Ok(())
    }

    /// The `?written=` record URI of the current address, if the page confirms a write.
    pub async fn written_uri(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.url().await.ok()?).ok()?;
        let uri = url
            .query_pairs()
            .find(|(key, _)| key == "written")
            .map(|(_, value)| value.into_owned());
        uri
    }

    /// The value of this browser's cookie `name` for the page's site.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.page.get_cookies().await.ok()?;
        cookies
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.value)
    }

    /// The value of the `href` of the first element matching `selector`.
    pub async fn href(&self, selector: &str) -> Result<String> {
        self.wait_for(selector).await?;
        self.page
            .find_element(selector)
            .await?
            .attribute("href")
            .await?
            .ok_or_else(|| anyhow!("{selector} has no href"))
    }

    /// Saves a screenshot of the page to `path` (PNG).
    pub async fn screenshot(&self, path: &std::path::Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let params = chromiumoxide::page::ScreenshotParams::builder()
            .full_page(true)
            .build();
        self.page.save_screenshot(params, path).await?;
        Ok(())
    }

    /// Closes the browser.
    pub async fn close(mut self) {
        let _ = self.chromium.close().await;
        let _ = self.chromium.wait().await;
        self.handler.abort();
    }
}
