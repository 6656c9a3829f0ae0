//! The query benchmark: seeds a scratch database with projects, proposals and estimates
//! (server-side `generate_series`, no round trip per row), derives the aggregates, then drives
//! `getFundingTotals` and `getProposal` over loopback at N concurrent connections against a
//! trivial handler (`/xrpc/_health`) of the same server in the same run: once with the view
//! cache on (as deployed; each distinct request made once beforehand) and once with it off
//! (every request reads Postgres).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};

use crate::{AppView, Config};

/// What to seed and how hard to drive it.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Proposals to seed.
    #[arg(long, default_value_t = 10_000)]
    pub proposals: i64,
    /// Estimates to seed, spread over the proposals.
    #[arg(long, default_value_t = 1_000_000)]
    pub estimates: i64,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds each scenario runs (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// URIs per getFundingTotals request (a widget page's worth).
    #[arg(long, default_value_t = 5)]
    pub batch: usize,
    /// Scratch database, dropped and recreated.
    #[arg(long, default_value = "greenlight_appview_bench")]
    pub database: String,
    /// Drive the queries against the database a previous run seeded, without seeding again.
    #[arg(long)]
    pub reuse: bool,
}

/// One scenario's figures.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What was requested.
    pub name: String,
    /// Completed requests per second.
    pub requests_per_second: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Responses that were not 200.
    pub errors: u64,
}

/// The benchmark's results.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Rows seeded and how long seeding and deriving took.
    pub seeded: String,
    /// The trivial handler, then the queries.
    pub scenarios: Vec<Scenario>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.seeded)?;
        let trivial = self
            .scenarios
            .first()
            .map_or(1.0, |s| s.requests_per_second);
        writeln!(
            f,
            "{:<28} {:>10} {:>9} {:>9} {:>7} {:>7}",
            "scenario", "req/s", "p50 ms", "p99 ms", "ratio", "errors"
        )?;
        for s in &self.scenarios {
            writeln!(
                f,
                "{:<28} {:>10.0} {:>9.2} {:>9.2} {:>7.2} {:>7}",
                s.name,
                s.requests_per_second,
                s.p50.as_secs_f64() * 1e3,
                s.p99.as_secs_f64() * 1e3,
                s.requests_per_second / trivial,
                s.errors
            )?;
        }
        Ok(())
    }
}

/// Runs the whole benchmark.
pub async fn run(database_url: &str, args: &BenchArgs) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(
        args.database
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "database name must be alphanumeric"
    );
    let url = greenlight_store::server::database_url(database_url, &args.database);
    let seeded = if args.reuse {
        format!(
            "reusing the database {} seeded by an earlier run",
            args.database
        )
    } else {
        prepare(database_url, &url, args).await?
    };

    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(args.connections).unwrap_or(64).min(64))
        .connect(&url)
        .await?;
    // Two AppViews on the same pool: one with its view cache on (as deployed), one with it
    // off, so every request of the second goes to Postgres.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut bases = Vec::new();
    let mut servers = Vec::new();
    for cached in [true, false] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = AppView::new(pool.clone(), Config::local(addr))?;
        if cached {
            app.spawn_cache_listener(shutdown.clone());
            while !app.cache().is_listening() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        servers.push(tokio::spawn(app.serve(listener)));
        bases.push(format!("http://{addr}/xrpc"));
    }

    let proposal = |i: i64| {
        format!(
            "at://did:plc:bench{:05}/fund.greenlight.proposal/p{i}",
            i % 1000
        )
    };
    let requests = |base: &str| {
        let mut totals = Vec::new();
        let mut gets = Vec::new();
        for n in 0..1000i64 {
            let mut query = String::new();
            for k in 0..args.batch as i64 {
                let i = (n * 7919 + k * 104_729) % args.proposals.max(1);
                query.push_str(&format!("uris={}&", proposal(i)));
            }
            totals.push(format!("{base}/fund.greenlight.getFundingTotals?{query}"));
            gets.push(format!(
                "{base}/fund.greenlight.getProposal?uri={}",
                proposal((n * 31) % args.proposals.max(1))
            ));
        }
        (totals, gets)
    };
    let (totals, gets) = requests(&bases[0]);
    let (cold_totals, cold_gets) = requests(&bases[1]);
    // The cached runs measure the steady state: every distinct request was made once.
    prime(&totals).await?;
    prime(&gets).await?;
    let scenarios = vec![
        drive(
            "trivial (_health)",
            vec![format!("{}/_health", bases[0])],
            args,
        )
        .await?,
        drive("getFundingTotals", totals, args).await?,
        drive("getProposal", gets, args).await?,
        drive("getFundingTotals (no cache)", cold_totals, args).await?,
        drive("getProposal (no cache)", cold_gets, args).await?,
    ];
    for server in servers {
        server.abort();
    }
    shutdown.cancel();
    Ok(BenchReport { seeded, scenarios })
}

/// Requests each URL once, in order.
async fn prime(urls: &[String]) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for url in urls {
        client
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
    }
    Ok(())
}

/// Recreates the scratch database, seeds it and derives the aggregates; says how long it took.
async fn prepare(admin_url: &str, url: &str, args: &BenchArgs) -> anyhow::Result<String> {
    let mut admin = PgConnection::connect(admin_url)
        .await
        .context("cannot connect to Postgres")?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        args.database
    ))
    .execute(&mut admin)
    .await?;
    sqlx::query(&format!("CREATE DATABASE {}", args.database))
        .execute(&mut admin)
        .await?;
    let pool = greenlight_store::open(url, 4).await?;
    let started = Instant::now();
    seed(&pool, args).await?;
    let seeded_in = started.elapsed();
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    greenlight_aggregates::rebuild_all(&mut tx).await?;
    tx.commit().await?;
    let derived_in = started.elapsed();
    sqlx::query!("VACUUM ANALYZE").execute(&pool).await?;
    pool.close().await;
    Ok(format!(
        "seeded {} proposals and {} estimates in {:.1} s; derived aggregates in {:.1} s",
        args.proposals,
        args.estimates,
        seeded_in.as_secs_f64(),
        derived_in.as_secs_f64()
    ))
}

/// Seeds projects, proposals (a third in development), estimates and handles.
async fn seed(pool: &sqlx::PgPool, args: &BenchArgs) -> anyhow::Result<()> {
    let projects = 100i64;
    // Projects: owners did:plc:bench00000..00099.
    sqlx::query!(
        "INSERT INTO appview.record (uri, did, collection, rkey, cid, rev, body, created_at, currency)
         SELECT 'at://did:plc:bench' || lpad(i::text, 5, '0') || '/fund.greenlight.project/proj',
                'did:plc:bench' || lpad(i::text, 5, '0'), 'fund.greenlight.project', 'proj',
                'bafyreibench', '3l000000000aa',
                jsonb_build_object('name', 'Project ' || i, 'description', 'A benchmark project',
                    'repository', 'https://example.com/repo/' || i, 'currency', 'USD',
                    'createdAt', '2025-01-01T00:00:00Z'),
                timestamptz '2025-01-01' + i * interval '1 minute', 'USD'
         FROM generate_series(0, $1::int8 - 1) AS i",
        projects,
    )
    .execute(pool)
    .await?;
    // Proposals p<i> by did:plc:bench<i % 1000>, about project i % 100.
    sqlx::query!(
        "INSERT INTO appview.record (uri, did, collection, rkey, cid, rev, body, subject_uri,
             created_at)
         SELECT 'at://did:plc:bench' || lpad((i % 1000)::text, 5, '0') || '/fund.greenlight.proposal/p' || i,
                'did:plc:bench' || lpad((i % 1000)::text, 5, '0'), 'fund.greenlight.proposal',
                'p' || i, 'bafyreibench', '3l000000000aa',
                jsonb_build_object(
                    'subject', jsonb_build_object('$type', 'com.atproto.repo.strongRef',
                        'uri', 'at://did:plc:bench' || lpad((i % $1::int8)::text, 5, '0') || '/fund.greenlight.project/proj',
                        'cid', 'bafyreibench'),
                    'title', 'Feature number ' || i,
                    'body', 'Please build feature ' || i || ' with offline sync and dark mode.',
                    'createdAt', '2025-02-01T00:00:00Z'),
                'at://did:plc:bench' || lpad((i % $1::int8)::text, 5, '0') || '/fund.greenlight.project/proj',
                timestamptz '2025-02-01' + i * interval '1 second'
         FROM generate_series(0, $2::int8 - 1) AS i",
        projects,
        args.proposals,
    )
    .execute(pool)
    .await?;
    // A development status by the project owner on every third proposal.
    sqlx::query!(
        "INSERT INTO appview.record (uri, did, collection, rkey, cid, rev, body, subject_uri,
             created_at, stage, amount, currency)
         SELECT 'at://did:plc:bench' || lpad((i % $1::int8)::text, 5, '0') || '/fund.greenlight.status/s' || i,
                'did:plc:bench' || lpad((i % $1::int8)::text, 5, '0'), 'fund.greenlight.status', 's' || i,
                'bafyreibench', '3l000000000aa',
                jsonb_build_object(
                    'subject', jsonb_build_object('uri', 'at://did:plc:bench' || lpad((i % 1000)::text, 5, '0') || '/fund.greenlight.proposal/p' || i, 'cid', 'bafyreibench'),
                    'stage', jsonb_build_object('$type', 'fund.greenlight.status#development',
                        'goal', 500000, 'currency', 'USD'),
                    'createdAt', '2025-03-01T00:00:00Z'),
                'at://did:plc:bench' || lpad((i % 1000)::text, 5, '0') || '/fund.greenlight.proposal/p' || i,
                timestamptz '2025-03-01', 'fund.greenlight.status#development', 500000, 'USD'
         FROM generate_series(0, $2::int8 - 1, 3) AS i",
        projects,
        args.proposals,
    )
    .execute(pool)
    .await?;
    // Estimates by 100,000 people, spread over the proposals.
    sqlx::query!(
        "INSERT INTO appview.record (uri, did, collection, rkey, cid, rev, body, subject_uri,
             created_at, amount, currency)
         SELECT 'at://did:plc:fan' || (i % 100000) || '/fund.greenlight.estimate/e' || i,
                'did:plc:fan' || (i % 100000), 'fund.greenlight.estimate', 'e' || i,
                'bafyreibench', '3l000000000aa',
                jsonb_build_object('amount', 100 + (i * 7919) % 5000, 'currency', 'USD',
                    'createdAt', '2025-02-15T00:00:00Z'),
                'at://did:plc:bench' || lpad(((i % $1::int8) % 1000)::text, 5, '0') || '/fund.greenlight.proposal/p' || (i % $1::int8),
                timestamptz '2025-02-15' + i * interval '1 millisecond',
                100 + (i * 7919) % 5000, 'USD'
         FROM generate_series(0, $2::int8 - 1) AS i",
        args.proposals,
        args.estimates,
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "INSERT INTO appview.actor (did, handle)
         SELECT 'did:plc:bench' || lpad(i::text, 5, '0'), 'bench' || i || '.test'
         FROM generate_series(0, 999) AS i",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Sends requests from `urls` round-robin on `args.connections` concurrent connections for
/// `args.seconds` after a warm-up second, and measures them.
async fn drive(name: &str, urls: Vec<String>, args: &BenchArgs) -> anyhow::Result<Scenario> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    let urls = Arc::new(urls);
    let warmup = Duration::from_secs(1);
    let measure = Duration::from_secs(args.seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..args.connections {
        let client = client.clone();
        let urls = urls.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            let mut n = worker;
            loop {
                let sent = Instant::now();
                if sent.duration_since(start) >= warmup + measure {
                    break;
                }
                let url = &urls[n % urls.len()];
                n += 1;
                let ok = match client.get(url).send().await {
                    Ok(response) => {
                        let status = response.status();
                        response.bytes().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                if sent.duration_since(start) >= warmup {
                    latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    if !ok {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        Duration::from_micros(latencies.get(i).copied().unwrap_or(0).into())
    };
    Ok(Scenario {
        name: name.to_owned(),
        requests_per_second: latencies.len() as f64 / measure.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        errors,
    })
}
