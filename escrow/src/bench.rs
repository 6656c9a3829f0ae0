//! `greenlight-escrow bench`: idempotent ledger transfers per second, next to pgbench's
//! simple-update TPS (`pgbench -N`) on the same server in the same run.
//!
//! Both run in scratch databases created for the run and dropped after it. The ledger side
//! runs `clients` concurrent connections, each creating transfers through the ledger's one
//! entry point (`escrow.create_transfer`: idempotency by id, limit checks, the state row), one
//! transfer per transaction, as escrow does in production. One call in ten replays an earlier
//! id and must come back as a replay; one in five debits a limited account, taking its lock
//! and checking its balance. pgbench runs with the same number of clients for the same time.

use std::process::Command;
use std::time::{Duration, Instant};

use greenlight_store::server::database_url;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::ledger::{self, Created, Kind, Transfer};

/// Benchmark settings.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// A Postgres URL of a role that may create databases (`scripts/postgres url`).
    pub admin_url: String,
    /// Concurrent clients, for both sides.
    pub clients: usize,
    /// Seconds each side runs.
    pub seconds: u64,
    /// The pgbench binary.
    pub pgbench: String,
}

/// What the benchmark measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Transfer calls per second (new and replayed).
    pub transfers_per_second: f64,
    /// New transfers created.
    pub created: u64,
    /// Replays answered as replays.
    pub replayed: u64,
    /// pgbench's simple-update transactions per second.
    pub pgbench_tps: f64,
    /// Ledger invariant violations after the run (must be zero).
    pub violations: usize,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// pgbench failed or printed no TPS.
    #[error("pgbench: {0}")]
    Pgbench(String),
    /// A replay was not recognised as one, or a transfer was refused.
    #[error("ledger misbehaved: {0}")]
    Ledger(String),
}

/// Finds pgbench on PATH or among Debian's Postgres binaries.
pub fn find_pgbench() -> Option<String> {
    if Command::new("pgbench").arg("--version").output().is_ok() {
        return Some("pgbench".into());
    }
    let mut candidates: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin/pgbench"))
        .filter(|path| path.exists())
        .collect();
    candidates.sort();
    candidates.pop().map(|path| path.display().to_string())
}

async fn recreate(admin: &mut PgConnection, database: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .execute(&mut *admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut *admin)
        .await?;
    Ok(())
}

/// Runs the benchmark.
pub async fn run(config: &BenchConfig) -> Result<BenchReport, BenchError> {
    const LEDGER_DB: &str = "greenlight_escrow_bench";
    const PGBENCH_DB: &str = "greenlight_escrow_pgbench";
    let mut admin = PgConnection::connect(&config.admin_url).await?;
    recreate(&mut admin, LEDGER_DB).await?;
    recreate(&mut admin, PGBENCH_DB).await?;

    let pool = PgPoolOptions::new()
        .max_connections(config.clients as u32 + 1)
        .connect(&database_url(&config.admin_url, LEDGER_DB))
        .await?;
    crate::MIGRATOR.run(&pool).await?;
    let ledger_result = run_ledger(&pool, config).await;
    crate::ledger::publish_feed(&mut *pool.acquire().await?).await?;
    let violations = crate::ledger::invariants::check_ledger(&pool).await?;
    pool.close().await;

    let pgbench_result = run_pgbench(config, &database_url(&config.admin_url, PGBENCH_DB));
    sqlx::query(&format!("DROP DATABASE IF EXISTS {LEDGER_DB} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)"
    ))
    .execute(&mut admin)
    .await?;
    let (calls, created, replayed, elapsed) = ledger_result?;
    Ok(BenchReport {
        transfers_per_second: calls as f64 / elapsed.as_secs_f64(),
        created,
        replayed,
        pgbench_tps: pgbench_result?,
        violations: violations.len(),
    })
}

async fn run_ledger(
    pool: &PgPool,
    config: &BenchConfig,
) -> Result<(u64, u64, u64, Duration), BenchError> {
    let deadline = Instant::now() + Duration::from_secs(config.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..config.clients {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            let (mut created, mut replayed) = (0u64, 0u64);
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let replay = n.is_multiple_of(10) && n > 10;
                // A replay repeats an earlier call's fields exactly.
                let original = if replay { n - 7 } else { n };
                let id = format!("bench-{client}-{original}");
                // A limited debit draws on the proposal the previous call funded with 100.
                let slot = if original.is_multiple_of(5) {
                    original - 1
                } else {
                    original
                } % 64;
                let proposal =
                    format!("at://did:plc:bench{client}/fund.greenlight.proposal/{slot}");
                let held = ledger::held(&proposal);
                let payable = ledger::payable(&format!("did:plc:maintainer{client}"));
                let transfer = if original.is_multiple_of(5) {
                    Transfer::new(&id, "USD", &held, &payable, 1, Kind::PledgeCapture)
                } else {
                    Transfer::new(
                        &id,
                        "USD",
                        ledger::PROVIDER_CLEARING,
                        &held,
                        100,
                        Kind::PledgeHold,
                    )
                };
                let transfer = Transfer {
                    proposal: Some(&proposal),
                    ..transfer
                };
                let outcome = ledger::create_transfer(&mut conn, &transfer, chrono::Utc::now())
                    .await
                    .map_err(|error| BenchError::Ledger(error.to_string()))?;
                match (replay, outcome) {
                    (false, Created::New) => created += 1,
                    (true, Created::Replayed) => replayed += 1,
                    (replay, outcome) => {
                        return Err(BenchError::Ledger(format!(
                            "{id}: replay {replay} answered {outcome:?}"
                        )))
                    }
                }
            }
            Ok::<_, BenchError>((created, replayed))
        }));
    }
    let (mut created, mut replayed) = (0, 0);
    for task in tasks {
        let (c, r) = task
            .await
            .map_err(|error| BenchError::Ledger(error.to_string()))??;
        created += c;
        replayed += r;
    }
    Ok((created + replayed, created, replayed, started.elapsed()))
}

fn run_pgbench(config: &BenchConfig, url: &str) -> Result<f64, BenchError> {
    let init = Command::new(&config.pgbench)
        .args(["-i", "-q", "-s", "8", url])
        .output()
        .map_err(|error| BenchError::Pgbench(format!("cannot run {}: {error}", config.pgbench)))?;
    if !init.status.success() {
        return Err(BenchError::Pgbench(
            String::from_utf8_lossy(&init.stderr).into_owned(),
        ));
    }
    let clients = config.clients.to_string();
    let seconds = config.seconds.to_string();
    let run = Command::new(&config.pgbench)
        .args(["-N", "-c", &clients, "-j", "2", "-T", &seconds, url])
        .output()
        .map_err(|error| BenchError::Pgbench(error.to_string()))?;
    let stdout = String::from_utf8_lossy(&run.stdout);
    stdout
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|tps| tps.parse::<f64>().ok())
        })
        .ok_or_else(|| {
            BenchError::Pgbench(format!(
                "no tps in its output: {stdout}{}",
                String::from_utf8_lossy(&run.stderr)
            ))
        })
}
