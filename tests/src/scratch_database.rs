//! A throw-away Postgres database per test, on the server `DATABASE_URL` names (or the
//! project-local one `scripts/postgres start` runs).

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};

static CREATED: AtomicU32 = AtomicU32::new(0);

/// A database created for one test; [`ScratchDatabase::drop_now`] removes it.
#[derive(Debug, Clone)]
pub struct ScratchDatabase {
    /// Its connection URL.
    pub url: String,
    /// Its name.
    pub name: String,
    server_url: String,
}

/// The server URL: `DATABASE_URL`, else what `scripts/postgres start` prints.
pub fn server_url() -> Result<String> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Ok(url);
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres");
    let output = std::process::Command::new(script)
        .arg("start")
        .output()
        .context("running scripts/postgres start")?;
    anyhow::ensure!(output.status.success(), "scripts/postgres start failed");
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

impl ScratchDatabase {
    /// Creates an empty database named after `purpose`, the process and a counter.
    pub async fn create(purpose: &str) -> Result<ScratchDatabase> {
        let server_url = server_url()?;
        let purpose: String = purpose
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(20)
            .collect::<String>()
            .to_ascii_lowercase();
        let name = format!(
            "gl_{purpose}_{}_{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        );
        let url = greenlight_store::server::create_database(&server_url, &name)
            .await
            .context("creating the scratch database")?;
        Ok(ScratchDatabase {
            url,
            name,
            server_url,
        })
    }

    /// Drops the database (connections still open to it are terminated).
    pub async fn drop_now(self) -> Result<()> {
        greenlight_store::server::drop_database(&self.server_url, &self.name).await?;
        Ok(())
    }
}
