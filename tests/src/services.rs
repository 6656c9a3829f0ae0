//! The three Greenlight services as separate processes — indexer, AppView and escrow —
//! wired to a [`TestNetwork`]'s PDS and PLC, each on free loopback ports and fresh
//! databases, the way they run in production.
//!
//! The binaries come from the workspace's `target/debug` (see [`service_binaries`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::process::{Child, Command};

use crate::network::TestNetwork;
use crate::scratch_database::ScratchDatabase;

/// How long a service may take to answer its health check.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings the tests vary.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// Escrow's verification period after a release: short, so tests see payouts without
    /// a clock they could move (a running escrow takes its time from the system clock).
    pub verification_seconds: i64,
    /// How long after a preview ends a release may still come.
    pub release_grace_seconds: i64,
    /// Escrow's lifecycle worker tick.
    pub escrow_tick_ms: u64,
    /// The length of a day on escrow's billing calendar, when retainer periods must pass in
    /// seconds (`None`: a real day).
    pub billing_day_ms: Option<u64>,
}

impl Default for ServicesConfig {
    fn default() -> ServicesConfig {
        ServicesConfig {
            verification_seconds: 4,
            release_grace_seconds: 2,
            escrow_tick_ms: 200,
            billing_day_ms: None,
        }
    }
}

/// The running services.
pub struct Services {
    /// The AppView's base URL.
    pub appview_url: String,
    /// Escrow's base URL.
    pub escrow_url: String,
    /// Escrow's operator password (HTTP Basic user `admin`).
    pub admin_password: String,
    /// The AppView's database.
    pub appview_database: ScratchDatabase,
    /// Escrow's database.
    pub escrow_database: ScratchDatabase,
    processes: Vec<(String, Child)>,
    // Kept after a failed test (for reading the whole logs); removed by `stop`.
    log_dir: tempfile::TempDir,
}

/// A free loopback port (another process could take it before we bind; tests live with that).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The folder holding the service binaries (`target/debug`).
///
/// They are not built here: `cargo test` holds the build lock while tests run, so a
/// `cargo build` from inside a test waits forever. A binary older than any source it is built
/// from is refused rather than tested. `cargo test --workspace` (what
/// `scripts/test` runs) builds them, because each service has integration tests; with
/// `cargo test -p greenlight-tests` alone, run `cargo build -p greenlight-indexer
/// -p greenlight-appview -p greenlight-escrow` first.
pub fn service_binaries() -> Result<PathBuf> {
    let root = repo_root();
    let dir = std::env::var_os("GREENLIGHT_SERVICE_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target"))
                .join("debug")
        });
    let build =
        "run `cargo build -p greenlight-indexer -p greenlight-appview -p greenlight-escrow` \
                 (or `scripts/test`) before these tests";
    for (name, package) in [
        ("greenlight-indexer", "indexer"),
        ("greenlight-appview", "appview"),
        ("greenlight-escrow", "escrow"),
    ] {
        let binary = dir.join(name);
        let built = std::fs::metadata(&binary)
            .and_then(|m| m.modified())
            .map_err(|_| anyhow::anyhow!("{} is missing: {build}", binary.display()))?;
        // A binary older than the code it is built from would test yesterday's system.
        let sources = package_sources(&root, package)?;
        if let Some((source, changed)) = newest_modification(&root, &sources)? {
            if changed > built {
                bail!(
                    "{} is older than {}: {build}",
                    binary.display(),
                    source.display()
                );
            }
        }
    }
    Ok(dir)
}

/// The folders a package's binary is built from: its own and those of the workspace crates it
/// depends on (not dev-dependencies), transitively, with the migrations and lexicons they
/// embed.
fn package_sources(root: &Path, package: &str) -> Result<Vec<String>> {
    let workspace = std::fs::read_to_string(root.join("Cargo.toml"))?;
    // `greenlight-x = { path = "crates/x" }` in [workspace.dependencies].
    let workspace_paths: std::collections::HashMap<String, String> = workspace
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once('=')?;
            Some((name.trim().to_owned(), path_of(rest)?.to_owned()))
        })
        .collect();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut pending = vec![PathBuf::from(package)];
    while let Some(dir) = pending.pop() {
        if seen.contains(&dir) {
            continue;
        }
        let manifest = std::fs::read_to_string(root.join(&dir).join("Cargo.toml"))?;
        let dependencies = manifest
            .split("\n[")
            .find(|section| section.starts_with("dependencies]"))
            .unwrap_or_default();
        for line in dependencies.lines() {
            let Some((name, rest)) = line.split_once('=') else {
                continue;
            };
            let name = name.trim().trim_end_matches(".workspace");
            if let Some(path) = path_of(rest) {
                // Relative to this crate, e.g. `../indexer`.
                pending.push(normalized(&dir.join(path)));
            } else if let Some(path) = workspace_paths.get(name) {
                pending.push(PathBuf::from(path));
            }
        }
        seen.push(dir);
    }
    let mut sources: Vec<String> = Vec::new();
    for dir in &seen {
        for part in ["src", "migrations", "Cargo.toml"] {
            sources.push(dir.join(part).to_string_lossy().into_owned());
        }
    }
    sources.extend(["migrations".to_owned(), "lexicons".to_owned()]);
    Ok(sources)
}

/// The `path = "..."` of a dependency line, if it has one.
fn path_of(line: &str) -> Option<&str> {
    line.split("path = \"").nth(1)?.split('"').next()
}

/// `a/../b` as `b`.
fn normalized(path: &Path) -> PathBuf {
    path.components()
        .fold(PathBuf::new(), |mut out, component| {
            match component {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
            out
        })
}

/// The most recently modified file under `paths` (skipping tests, which are not in the
/// binaries), with its time.
fn newest_modification(
    root: &Path,
    paths: &[String],
) -> Result<Option<(PathBuf, std::time::SystemTime)>> {
    let mut newest: Option<(PathBuf, std::time::SystemTime)> = None;
    let mut pending: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "tests" || n == "target")
            {
                continue;
            }
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        } else if let Ok(modified) = meta.modified() {
            if newest.as_ref().is_none_or(|(_, t)| modified > *t) {
                newest = Some((path, modified));
            }
        }
    }
    Ok(newest)
}

impl Drop for Services {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Leave the logs for whoever reads the failure.
            let dir = std::mem::replace(
                &mut self.log_dir,
                match tempfile::tempdir() {
                    Ok(dir) => dir,
                    Err(_) => return,
                },
            );
            let _ = dir.keep();
        }
    }
}

impl Services {
    /// Starts the AppView, escrow and the indexer (following the network's PDS firehose)
    /// on fresh databases, and waits until each answers.
    pub async fn start(network: &TestNetwork, config: ServicesConfig) -> Result<Services> {
        let bin = service_binaries()?;
        let appview_database = ScratchDatabase::create("e2eappview").await?;
        let escrow_database = ScratchDatabase::create("e2eescrow").await?;
        let log_dir = tempfile::Builder::new()
            .prefix("greenlight-services-")
            .tempdir()?;
        tracing::info!(logs = %log_dir.path().display(), "service logs");
        let appview_port = free_port()?;
        let escrow_port = free_port()?;
        let appview_url = format!("http://127.0.0.1:{appview_port}");
        let escrow_url = format!("http://127.0.0.1:{escrow_port}");
        let admin_password = format!("admin-{}", std::process::id());
        let mut services = Services {
            appview_url: appview_url.clone(),
            escrow_url: escrow_url.clone(),
            admin_password: admin_password.clone(),
            appview_database,
            escrow_database,
            processes: Vec::new(),
            log_dir,
        };
        let identity = [
            ("GREENLIGHT_PLC_URL", network.plc_url().to_owned()),
            (
                "GREENLIGHT_HANDLE_RESOLVER_PDS",
                network.pds_url().to_owned(),
            ),
        ];

        // The AppView first: it migrates the database the indexer writes to.
        let mut env: Vec<(&str, String)> = vec![
            ("DATABASE_URL", services.appview_database.url.clone()),
            (
                "GREENLIGHT_APPVIEW_BIND",
                format!("127.0.0.1:{appview_port}"),
            ),
            ("GREENLIGHT_ESCROW_URL", escrow_url.clone()),
            // The audience of the service-auth tokens people's pages get for escrow.
            (
                "GREENLIGHT_ESCROW_DID",
                format!("did:web:localhost%3A{escrow_port}"),
            ),
        ];
        env.extend(identity.iter().cloned());
        env.push(("GREENLIGHT_ALLOW_INSECURE_HTTP", "1".into()));
        services.spawn("appview", &bin.join("greenlight-appview"), &[], &env)?;
        services
            .wait_healthy("appview", &format!("{appview_url}/xrpc/_health"))
            .await?;

        let mut env: Vec<(&str, String)> = vec![
            ("ESCROW_DATABASE_URL", services.escrow_database.url.clone()),
            ("GREENLIGHT_ESCROW_BIND", format!("127.0.0.1:{escrow_port}")),
            // The reference PDS signs service auth only for did:web hosts with a port when the
            // host is localhost; escrow's default (named after its bind address) is refused.
            (
                "GREENLIGHT_ESCROW_DID",
                format!("did:web:localhost%3A{escrow_port}"),
            ),
            ("GREENLIGHT_APPVIEW_URL", appview_url.clone()),
            // A demo: the sandbox provider, a test password; escrow refuses those otherwise.
            ("GREENLIGHT_ESCROW_DEMO", "1".into()),
            ("GREENLIGHT_ESCROW_ADMIN_PASSWORD", admin_password),
            (
                "GREENLIGHT_ESCROW_VERIFICATION_SECONDS",
                config.verification_seconds.to_string(),
            ),
            (
                "GREENLIGHT_ESCROW_RELEASE_GRACE_SECONDS",
                config.release_grace_seconds.to_string(),
            ),
            (
                "GREENLIGHT_ESCROW_TICK_MS",
                config.escrow_tick_ms.to_string(),
            ),
        ];
        if let Some(day) = config.billing_day_ms {
            env.push(("GREENLIGHT_ESCROW_BILLING_DAY_MILLIS", day.to_string()));
            // The calendar starts now, so months of short days stay within its years.
            env.push((
                "GREENLIGHT_ESCROW_BILLING_ORIGIN_SECONDS",
                chrono::Utc::now().timestamp().to_string(),
            ));
        }
        env.extend(identity.iter().cloned());
        env.push(("GREENLIGHT_ALLOW_INSECURE_HTTP", "1".into()));
        services.spawn("escrow", &bin.join("greenlight-escrow"), &["serve"], &env)?;
        services
            .wait_healthy("escrow", &format!("{escrow_url}/xrpc/_health"))
            .await?;

        let indexer_port = free_port()?;
        let mut env: Vec<(&str, String)> = vec![
            ("DATABASE_URL", services.appview_database.url.clone()),
            ("GREENLIGHT_FIREHOSE_URL", network.firehose_url()),
            (
                "GREENLIGHT_INDEXER_METRICS_ADDR",
                format!("127.0.0.1:{indexer_port}"),
            ),
        ];
        env.extend(identity.iter().cloned());
        // The indexer's flag is a clap bool: it wants `true`, not `1`.
        env.push(("GREENLIGHT_ALLOW_INSECURE_HTTP", "true".into()));
        services.spawn(
            "indexer",
            &bin.join("greenlight-indexer"),
            &["run", "--linger-ms", "5"],
            &env,
        )?;
        services
            .wait_healthy(
                "indexer",
                &format!("http://127.0.0.1:{indexer_port}/_health"),
            )
            .await?;
        Ok(services)
    }

    fn spawn(
        &mut self,
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Result<()> {
        let log = std::fs::File::create(self.log_dir.path().join(format!("{name}.log")))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env("RUST_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        self.processes.push((name.to_owned(), child));
        Ok(())
    }

    async fn wait_healthy(&mut self, name: &str, url: &str) -> Result<()> {
        let http = reqwest::Client::builder().no_proxy().build()?;
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(response) = http.get(url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if let Some((_, child)) = self.processes.iter_mut().find(|(n, _)| n == name) {
                if let Ok(Some(status)) = child.try_wait() {
                    bail!("{name} exited with {status}; logs:\n{}", self.logs());
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{name} did not answer {url}; logs:\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails when any service has exited.
    pub fn check_running(&mut self) -> Result<()> {
        for (name, child) in &mut self.processes {
            if let Ok(Some(status)) = child.try_wait() {
                let name = name.clone();
                bail!("{name} exited with {status}; logs:\n{}", self.logs());
            }
        }
        Ok(())
    }

    /// The last lines each service logged, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for name in ["appview", "escrow", "indexer"] {
            let path = self.log_dir.path().join(format!("{name}.log"));
            let content = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = content.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            text.push_str(&format!(
                "--- {name} ({}) ---\n{}\n",
                path.display(),
                tail.join("\n")
            ));
        }
        text
    }

    /// Stops every service (SIGKILL through kill_on_drop is fine: they keep no state in
    /// memory that a test checks afterwards) and drops their databases.
    pub async fn stop(mut self) -> Result<()> {
        for (_, child) in &mut self.processes {
            let _ = child.kill().await;
        }
        self.processes.clear();
        self.appview_database.clone().drop_now().await?;
        self.escrow_database.clone().drop_now().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binarys_sources_are_its_crate_and_its_workspace_dependencies() {
        let root = repo_root();
        let escrow = package_sources(&root, "escrow").unwrap();
        assert!(escrow.contains(&"escrow/src".to_owned()));
        assert!(escrow.contains(&"crates/funding/src".to_owned()));
        assert!(escrow.contains(&"crates/lexicon/src".to_owned()));
        // Escrow does not link the AppView's aggregates: changing them must not call it stale.
        assert!(!escrow.contains(&"crates/aggregates/src".to_owned()));
        let appview = package_sources(&root, "appview").unwrap();
        assert!(appview.contains(&"crates/aggregates/src".to_owned()));
        assert!(appview.contains(&"crates/safe_fetch/src".to_owned()));
    }

    #[test]
    fn a_source_newer_than_everything_is_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/src")).unwrap();
        std::fs::write(dir.path().join("a/src/old.rs"), "").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("a/src/new.rs"), "").unwrap();
        let (newest, _) = newest_modification(dir.path(), &["a/src".to_owned()])
            .unwrap()
            .unwrap();
        assert!(newest.ends_with("new.rs"));
    }
}
