//! A throw-away Postgres database per test, on the server `DATABASE_URL` names (or the
//! project-local one `scripts/postgres start` runs).

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};
use sqlx::Connection;

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

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
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
        let mut admin = sqlx::PgConnection::connect(&server_url)
            .await
            .context("connecting to Postgres")?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        Ok(ScratchDatabase {
            url: with_database(&server_url, &name),
            name,
            server_url,
        })
    }

    /// Drops the database (connections still open to it are terminated).
    pub async fn drop_now(self) -> Result<()> {
        let mut admin = sqlx::PgConnection::connect(&self.server_url).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await?;
        Ok(())
    }
}
