//! The seeded fault campaign: one running [`World`] put through many trials, each a schedule
//! of faults drawn from a seeded RNG (SIGKILL and restart of the indexer, the AppView or
//! escrow; every Postgres connection of the services terminated; sandbox webhooks delivered
//! twice or late) interleaved with a small random workload (records through the PDS,
//! donations, pledges, cancellations, releases, declines), each trial ending with the checks:
//!
//! 1. exactly once, records: every record the campaign wrote is indexed, once, at the
//!    version written, and every record it deleted is gone;
//! 2. exactly once, money: every payment taken by the provider belongs to exactly one
//!    pledge or donation escrow holds or has settled, no payment was refunded twice, and the
//!    AppView holds exactly escrow's ledger feed;
//! 3. escrow's own invariants: `greenlight-escrow reconcile` (the books balance and agree
//!    with the provider's movements);
//! 4. rebuild equality: `greenlight-appview rebuild` leaves the aggregates as the incremental
//!    upkeep had them.
//!
//! The services are the processes [`crate::services::Services`] started: the campaign finds
//! them among its own children (`/proc`), and restarts a killed one with the program,
//! arguments, environment and log file it had, so nothing of their configuration is
//! repeated here. A Postgres restart would take down the server every other test on the
//! machine shares, so the stand-in is `pg_terminate_backend` on every connection to the
//! services' two databases: the services see exactly what a restart shows them (every
//! connection dropped mid-query).
//!
//! Replaying: trial `k` of a campaign with seed `S` draws its schedule from seed `S + k`;
//! the same `S` and trial count replays the campaign's schedules, and `S + k` with one
//! trial replays that trial's schedule on a fresh world (timing is the machine's, so a race
//! may need a few runs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use greenlight_cli::pledging;
use greenlight_cli::records;
use greenlight_cli::session::Session;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::steps;
use crate::world::World;

/// How long a trial's step or check may wait for the system to catch up (restarts of debug
/// binaries on a busy machine included).
const PATIENCE: Duration = Duration::from_secs(60);

/// The application name of the campaign's own connections, which the Postgres fault spares.
const APPLICATION_NAME: &str = "greenlight-fault-campaign";

/// The sandbox's webhook secret when escrow is given none (escrow's
/// `DEFAULT_SANDBOX_WEBHOOK_SECRET`; escrow is not a dependency of this crate).
const DEFAULT_SANDBOX_WEBHOOK_SECRET: &str = "whsec_sandbox_local";

/// A small deterministic RNG (splitmix64): the schedule of a seed must never change with a
/// dependency's version.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// An RNG drawing from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A service the campaign kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    /// `greenlight-indexer`.
    Indexer,
    /// `greenlight-appview`.
    AppView,
    /// `greenlight-escrow`.
    Escrow,
}

impl Service {
    const ALL: [Service; 3] = [Service::Indexer, Service::AppView, Service::Escrow];

    fn binary(self) -> &'static str {
        match self {
            Service::Indexer => "greenlight-indexer",
            Service::AppView => "greenlight-appview",
            Service::Escrow => "greenlight-escrow",
        }
    }

    /// Where it answers its health check, from its own environment.
    fn health_url(self, env: &[(String, String)]) -> Result<String> {
        let (key, path) = match self {
            Service::Indexer => ("GREENLIGHT_INDEXER_METRICS_ADDR", "/_health"),
            Service::AppView => ("GREENLIGHT_APPVIEW_BIND", "/xrpc/_health"),
            Service::Escrow => ("GREENLIGHT_ESCROW_BIND", "/xrpc/_health"),
        };
        let bind = lookup(env, key).with_context(|| format!("{} has no {key}", self.binary()))?;
        Ok(format!("http://{bind}{path}"))
    }
}

fn lookup<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, value)| value.as_str())
}

/// One fault of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL, then a restart with the same configuration.
    Kill(Service),
    /// Every connection of the services to their databases terminated (what a Postgres
    /// restart does to them).
    Postgres,
    /// The newest sandbox webhook delivered again, twice at once.
    WebhookDuplicate,
    /// An earlier sandbox webhook delivered again at the end of the trial, after the
    /// workload moved on.
    WebhookDelayed,
}

impl Fault {
    fn draw(rng: &mut Rng) -> Fault {
        match rng.below(100) {
            0..=19 => Fault::Kill(Service::Indexer),
            20..=39 => Fault::Kill(Service::AppView),
            40..=61 => Fault::Kill(Service::Escrow),
            62..=76 => Fault::Postgres,
            77..=90 => Fault::WebhookDuplicate,
            _ => Fault::WebhookDelayed,
        }
    }
}

/// One step of a trial: an operation of the workload, maybe with a fault fired a few
/// milliseconds into it (so a kill lands in the middle of a request as often as between).
#[derive(Debug, Clone)]
pub struct Step {
    /// Which operation (interpreted against the campaign's state when the step runs).
    pub op: u64,
    /// The fault and its delay after the operation starts.
    pub fault: Option<(Fault, Duration)>,
}

/// The schedule of one trial, a function of its seed alone.
pub fn schedule(seed: u64) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let steps = 3 + rng.below(3) as usize;
    let mut schedule: Vec<Step> = (0..steps)
        .map(|_| {
            let op = rng.next_u64();
            let fault = (rng.below(100) < 40)
                .then(|| (Fault::draw(&mut rng), Duration::from_millis(rng.below(400))));
            Step { op, fault }
        })
        .collect();
    if schedule.iter().all(|step| step.fault.is_none()) {
        let at = rng.below(steps as u64) as usize;
        schedule[at].fault = Some((Fault::draw(&mut rng), Duration::from_millis(rng.below(400))));
    }
    schedule
}

/// What the campaign did, for its report.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Trials run.
    pub trials: u64,
    /// SIGKILLs per service.
    pub kills: BTreeMap<&'static str, u64>,
    /// Restarts of services that exited by themselves (not killed by the campaign).
    pub unprompted_restarts: BTreeMap<&'static str, u64>,
    /// Postgres faults.
    pub postgres: u64,
    /// Backends terminated in all.
    pub backends_terminated: u64,
    /// Duplicate-webhook faults (the newest event delivered twice at once).
    pub webhook_duplicates: u64,
    /// Delayed-webhook faults (an earlier event delivered at the end of the trial).
    pub webhook_delays: u64,
    /// Deliveries escrow answered as duplicates (the faults' and the provider's retries).
    pub duplicates_recognised: u64,
    /// Distinct records written through the PDS.
    pub records_written: u64,
    /// Of those, deleted since.
    pub records_deleted: u64,
    /// Pledges made.
    pub pledges: u64,
    /// Pledges cancelled.
    pub cancellations: u64,
    /// Donations made.
    pub donations: u64,
    /// Proposals released.
    pub releases: u64,
    /// Proposals declined.
    pub declines: u64,
    /// Operations retried after a fault got in their way.
    pub retries: u64,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trials {}, kills {:?}, unprompted restarts {:?}, postgres faults {} ({} backends), \
             webhook duplicates {} (recognised {}), delayed webhooks {}, records written {} \
             (deleted {}), pledges {} (cancelled {}), donations {}, releases {}, declines {}, \
             retried operations {}",
            self.trials,
            self.kills,
            self.unprompted_restarts,
            self.postgres,
            self.backends_terminated,
            self.webhook_duplicates,
            self.duplicates_recognised,
            self.webhook_delays,
            self.records_written,
            self.records_deleted,
            self.pledges,
            self.cancellations,
            self.donations,
            self.releases,
            self.declines,
            self.retries
        )
    }
}

/// A service process, found among the campaign's children, restartable as it was started.
struct ServiceProcess {
    service: Service,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    health: String,
    pid: u32,
    /// The process after the campaign restarted it (before, it is `Services`' child).
    child: Option<tokio::process::Child>,
}

/// The parent pid and state of `/proc/<pid>/stat`.
fn proc_stat(pid: u32) -> Option<(u32, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may contain spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

fn nul_separated(path: &str) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    Ok(bytes
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect())
}

impl ServiceProcess {
    /// The live child of this process running `service`'s binary.
    fn adopt(service: Service) -> Result<ServiceProcess> {
        let me = std::process::id();
        for entry in std::fs::read_dir("/proc")? {
            let Some(pid) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if !matches!(proc_stat(pid), Some((parent, state)) if parent == me && state != 'Z') {
                continue;
            }
            let Ok(cmdline) = nul_separated(&format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let Some(program) = cmdline.first() else {
                continue;
            };
            if Path::new(program).file_name().and_then(|n| n.to_str()) != Some(service.binary()) {
                continue;
            }
            let env: Vec<(String, String)> = nul_separated(&format!("/proc/{pid}/environ"))?
                .into_iter()
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.to_owned(), value.to_owned()))
                })
                .collect();
            let log = std::fs::read_link(format!("/proc/{pid}/fd/1"))
                .with_context(|| format!("the log of {}", service.binary()))?;
            return Ok(ServiceProcess {
                service,
                program: PathBuf::from(program),
                args: cmdline[1..].to_vec(),
                health: service.health_url(&env)?,
                env,
                log,
                pid,
                child: None,
            });
        }
        bail!(
            "no running {} among this process's children",
            service.binary()
        )
    }

    fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => matches!(proc_stat(self.pid), Some((_, state)) if state != 'Z'),
        }
    }

    async fn kill(&mut self) -> Result<()> {
        match &mut self.child {
            Some(child) => {
                child.start_kill().context("SIGKILL")?;
                child.wait().await?;
            }
            None => {
                // Services' own child: it is reaped when Services drops it.
                let status = tokio::process::Command::new("kill")
                    .args(["-9", &self.pid.to_string()])
                    .status()
                    .await?;
                if !status.success() {
                    bail!("kill -9 {} failed", self.pid);
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                while self.alive() {
                    if Instant::now() > deadline {
                        bail!("{} survived SIGKILL", self.service.binary());
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        Ok(())
    }

    /// Starts it again as it was started, appending to its log, and waits until it answers.
    async fn restart(&mut self, http: &reqwest::Client) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.log)?;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("restarting {}", self.program.display()))?;
        self.pid = child.id().unwrap_or_default();
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(response) = http.get(&self.health).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if !self.alive() {
                bail!(
                    "{} exited while restarting; log {}",
                    self.service.binary(),
                    self.log.display()
                );
            }
            if Instant::now() > deadline {
                bail!("{} did not answer after a restart", self.service.binary());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs this service's binary once with `args` and its environment (reconcile, rebuild).
    async fn run_command(&self, args: &[&str]) -> Result<std::process::Output> {
        Ok(tokio::process::Command::new(&self.program)
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await?)
    }
}

/// SHA-256, by way of the firehose crate's CID of a block (sha2-256 is the only hash a CID
/// may use): this crate has no hash dependency of its own.
fn sha256(bytes: &[u8]) -> Vec<u8> {
    greenlight_firehose::mst::cid_for_block(bytes)
        .hash()
        .digest()
        .to_vec()
}

/// HMAC-SHA256 (RFC 2104), which Stripe's webhook signatures use.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = if key.len() > 64 {
        sha256(key)
    } else {
        key.to_vec()
    };
    block.resize(64, 0);
    let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = sha256(&[inner_key.as_slice(), message].concat());
    sha256(&[outer_key.as_slice(), inner.as_slice()].concat())
}

/// The `Stripe-Signature` header of `body` signed now.
fn stripe_signature(secret: &[u8], body: &[u8]) -> String {
    let now = chrono::Utc::now().timestamp();
    let signed = [now.to_string().as_bytes(), b".", body].concat();
    let hex: String = hmac_sha256(secret, &signed)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={now},v1={hex}")
}

/// Where a proposal of the campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Open,
    Development,
    Preview,
    Released,
    Declined,
}

#[derive(Debug, Clone)]
struct PledgeModel {
    id: String,
    record: String,
    amount: i64,
    backer: usize,
    cancelled: bool,
}

#[derive(Debug, Clone)]
struct ProposalModel {
    proposal: StrongRef,
    stage: Stage,
    pledges: Vec<PledgeModel>,
    donations: Vec<i64>,
}

/// What the campaign wrote and paid, to hold the system's state against.
#[derive(Debug, Default)]
struct Model {
    /// Every record written: its CID, or `None` once deleted.
    records: BTreeMap<String, Option<String>>,
    /// Live estimates: (uri, author index).
    estimates: Vec<(String, usize)>,
    proposals: Vec<ProposalModel>,
    /// Each payment's amount is unique in the campaign, so the provider's payments can be
    /// matched to the model by amount.
    next_amount: i64,
}

impl Model {
    fn amount(&mut self) -> i64 {
        self.next_amount += 1;
        // Above every currency's minimum charge.
        1_000 + self.next_amount
    }
}

/// A succeeded provider payment: amount, id, how many pledges and donations own it, the
/// owning pledge's id and state, the owning donation's state, its provider refunds.
type PaymentRow = (
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

/// The campaign: the world, its service processes, and what it did so far.
pub struct Campaign<'w> {
    world: &'w World,
    processes: Vec<ServiceProcess>,
    appview_db: PgPool,
    escrow_db: PgPool,
    http: reqwest::Client,
    webhooks: WebhookSender,
    maintainer: Session,
    backers: Vec<Session>,
    project: StrongRef,
    model: Model,
    /// Sandbox events already delivered again by the campaign's stand-in for the
    /// provider's retries.
    redelivered: BTreeSet<String>,
    /// Events held back for a late delivery at the end of the trial.
    delayed: Vec<String>,
    /// What it did.
    pub counts: Counts,
}

async fn campaign_pool(url: &str) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)?.application_name(APPLICATION_NAME);
    Ok(PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await?)
}

/// Retries `op` until it succeeds or [`PATIENCE`] runs out: a fault may fail any request,
/// and every operation of the workload is safe to repeat (idempotency keys, polls).
async fn retry<T>(
    what: &str,
    retries: &mut u64,
    mut op: impl AsyncFnMut() -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(error) if Instant::now() < deadline => {
                *retries += 1;
                tracing::debug!(%error, what, "retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => return Err(error.context(format!("{what}: gave up after retries"))),
        }
    }
}

impl<'w> Campaign<'w> {
    /// Sets the campaign up in `world`: a maintainer with a proven project and a payout
    /// account, and three backers.
    pub async fn start(world: &'w World) -> Result<Campaign<'w>> {
        let processes = Service::ALL
            .iter()
            .map(|s| ServiceProcess::adopt(*s))
            .collect::<Result<Vec<_>>>()?;
        let appview_db = campaign_pool(&world.services.appview_database.url).await?;
        let escrow_db = campaign_pool(&world.services.escrow_database.url).await?;
        let maintainer = world.person("maintainer").await;
        let mut backers = Vec::new();
        for i in 0..3 {
            backers.push(world.person(&format!("backer{i}")).await);
        }
        let project = world
            .proven_project(
                &maintainer,
                "campaign",
                steps::new_project("Campaign", "USD", vec![]),
            )
            .await;
        world
            .escrow
            .connect_payout_account(&maintainer)
            .await
            .map_err(|e| anyhow!("payout account: {e}"))?;
        let mut model = Model::default();
        let project_cid = project.cid.clone();
        model.records.insert(project.uri.clone(), Some(project_cid));
        let http = reqwest::Client::builder().no_proxy().build()?;
        let escrow = processes
            .iter()
            .find(|p| p.service == Service::Escrow)
            .ok_or_else(|| anyhow!("no escrow process"))?;
        let webhooks = WebhookSender::new(escrow, http.clone())?;
        Ok(Campaign {
            world,
            processes,
            appview_db,
            escrow_db,
            http,
            webhooks,
            maintainer,
            backers,
            project,
            model,
            redelivered: BTreeSet::new(),
            delayed: Vec::new(),
            counts: Counts::default(),
        })
    }

    /// Runs one trial: a new proposal, the schedule's steps with their faults, then the
    /// checks.
    pub async fn trial(&mut self, seed: u64) -> Result<()> {
        let schedule = schedule(seed);
        self.counts.trials += 1;
        let author = (seed % self.backers.len() as u64) as usize;
        let proposal = {
            let record = records::create(
                &self.backers[author],
                &records::proposal_record(
                    records::ProposalTarget::Project(self.project.clone()),
                    &format!("Feature {seed}"),
                    "Details.",
                    vec![],
                ),
                None,
            )
            .await
            .map_err(|e| anyhow!("proposal: {e}"))?;
            self.wrote(&record);
            record.strong_ref()
        };
        self.model.proposals.push(ProposalModel {
            proposal,
            stage: Stage::Open,
            pledges: Vec::new(),
            donations: Vec::new(),
        });
        for (index, step) in schedule.iter().enumerate() {
            let Campaign {
                world,
                processes,
                appview_db,
                escrow_db,
                http,
                webhooks,
                maintainer,
                backers,
                model,
                redelivered,
                delayed,
                counts,
                ..
            } = self;
            let mut retries = 0;
            let mut fault_counts = Counts::default();
            let op = operation(
                world,
                maintainer,
                backers,
                model,
                escrow_db,
                webhooks,
                &mut retries,
                step.op,
            );
            let fault = async {
                if let Some((fault, delay)) = step.fault {
                    tokio::time::sleep(delay).await;
                    inject(
                        fault,
                        processes,
                        appview_db,
                        escrow_db,
                        http,
                        webhooks,
                        redelivered,
                        delayed,
                        &mut fault_counts,
                    )
                    .await
                    .with_context(|| format!("fault {fault:?}"))
                } else {
                    Ok(())
                }
            };
            let (op, fault) = tokio::join!(op, fault);
            merge(counts, &fault_counts);
            counts.retries += retries;
            op.with_context(|| format!("step {index} of {schedule:?}"))?;
            fault.with_context(|| format!("step {index} of {schedule:?}"))?;
        }
        self.check().await
    }

    fn wrote(&mut self, record: &records::RecordRef) {
        self.model
            .records
            .insert(record.uri.clone(), Some(record.cid.clone()));
    }

    /// What the campaign did so far: the faults counted as they fired, the workload read
    /// off the model.
    pub fn counts(&self) -> Counts {
        let mut counts = self.counts.clone();
        counts.records_written = self.model.records.len() as u64;
        counts.records_deleted = self.model.records.values().filter(|c| c.is_none()).count() as u64;
        for proposal in &self.model.proposals {
            counts.pledges += proposal.pledges.len() as u64;
            counts.cancellations += proposal.pledges.iter().filter(|p| p.cancelled).count() as u64;
            counts.donations += proposal.donations.len() as u64;
            counts.releases += u64::from(proposal.stage == Stage::Released);
            counts.declines += u64::from(proposal.stage == Stage::Declined);
        }
        counts
    }

    /// Restarts any service that exited by itself (a service may exit on a fault it
    /// cannot ride out, as a supervisor would restart it in production; counted).
    async fn revive(&mut self) -> Result<()> {
        for process in &mut self.processes {
            if !process.alive() {
                *self
                    .counts
                    .unprompted_restarts
                    .entry(process.service.binary())
                    .or_default() += 1;
                process.restart(&self.http).await?;
            }
        }
        Ok(())
    }

    /// The checks at the end of a trial (see the module's documentation).
    pub async fn check(&mut self) -> Result<()> {
        self.revive().await?;
        // The provider retries every delivery it did not see acknowledged; the campaign
        // stands in for that by delivering each new event once more, and the delayed ones.
        let events: Vec<String> =
            sqlx::query_scalar("SELECT id FROM sandbox.event ORDER BY created_at, id")
                .fetch_all(&self.escrow_db)
                .await?;
        let mut late = std::mem::take(&mut self.delayed);
        late.extend(
            events
                .into_iter()
                .filter(|id| !self.redelivered.contains(id)),
        );
        for id in late {
            let duplicate = retry(
                "redelivering a webhook",
                &mut self.counts.retries,
                async || self.webhooks.deliver(&self.escrow_db, &id).await,
            )
            .await?;
            self.counts.duplicates_recognised += u64::from(duplicate);
            self.redelivered.insert(id);
        }
        self.check_records().await?;
        self.check_money().await?;
        self.check_feed().await?;
        self.reconcile().await?;
        self.check_rebuild().await
    }

    /// Every record written is indexed at its version, every deleted one gone, and the
    /// campaign's people have no other records.
    async fn check_records(&self) -> Result<()> {
        let mut dids: Vec<String> = self.backers.iter().map(|b| b.did().to_owned()).collect();
        dids.push(self.maintainer.did().to_owned());
        let expected: BTreeMap<String, String> = self
            .model
            .records
            .iter()
            .filter_map(|(uri, cid)| Some((uri.clone(), cid.clone()?)))
            .collect();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let indexed: BTreeMap<String, String> =
                sqlx::query_as("SELECT uri, cid FROM appview.record WHERE did = ANY($1)")
                    .bind(&dids)
                    .fetch_all(&self.appview_db)
                    .await?
                    .into_iter()
                    .collect();
            if indexed == expected {
                return Ok(());
            }
            if Instant::now() > deadline {
                let missing: Vec<_> = expected
                    .iter()
                    .filter(|(u, c)| indexed.get(*u) != Some(c))
                    .collect();
                let extra: Vec<_> = indexed
                    .iter()
                    .filter(|(u, _)| !expected.contains_key(*u))
                    .collect();
                bail!(
                    "records: missing or at another version {missing:?}; indexed but deleted \
                     or never written {extra:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every payment the provider took belongs to exactly one pledge or donation in the
    /// model, which escrow holds or settled; no payment was refunded twice, and refunds are
    /// what the model says.
    async fn check_money(&self) -> Result<()> {
        let mut pledges: BTreeMap<i64, &PledgeModel> = BTreeMap::new();
        let mut donations: BTreeSet<i64> = BTreeSet::new();
        for proposal in &self.model.proposals {
            for pledge in &proposal.pledges {
                pledges.insert(pledge.amount, pledge);
            }
            donations.extend(proposal.donations.iter().copied());
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let problems = self.money_problems(&pledges, &donations).await?;
            if problems.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("money: {problems:#?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn money_problems(
        &self,
        pledges: &BTreeMap<i64, &PledgeModel>,
        donations: &BTreeSet<i64>,
    ) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        // Succeeded payments, with what escrow made of them and their refunds.
        let rows: Vec<PaymentRow> = sqlx::query_as(
            "SELECT s.amount, s.id,
                        (SELECT count(*) FROM escrow.pledge p WHERE p.payment_id = s.id)
                      + (SELECT count(*) FROM escrow.donation d WHERE d.payment_id = s.id),
                        (SELECT p.id FROM escrow.pledge p WHERE p.payment_id = s.id),
                        (SELECT p.state FROM escrow.pledge p WHERE p.payment_id = s.id),
                        (SELECT d.state FROM escrow.donation d WHERE d.payment_id = s.id),
                        (SELECT count(*) FROM sandbox.refund r WHERE r.payment_id = s.id)
                 FROM sandbox.payment s WHERE s.status = 'succeeded'",
        )
        .fetch_all(&self.escrow_db)
        .await?;
        let mut paid: BTreeSet<i64> = BTreeSet::new();
        for (amount, payment, owners, pledge_id, pledge_state, donation_state, refunds) in rows {
            if !paid.insert(amount) {
                problems.push(format!("two succeeded payments of {amount}"));
            }
            if owners != 1 {
                problems.push(format!("payment {payment} of {amount} has {owners} owners"));
            }
            if let Some(pledge) = pledges.get(&amount) {
                if pledge_id.as_deref() != Some(pledge.id.as_str()) {
                    problems.push(format!("payment {payment} is not pledge {}", pledge.id));
                }
                // A cancelled pledge was held (the campaign cancels only those), so it was
                // refunded like a declined proposal's.
                let refunded = matches!(pledge_state.as_deref(), Some("refunded" | "cancelled"));
                let want_refunds = i64::from(refunded);
                if refunds != want_refunds {
                    problems.push(format!(
                        "pledge {} ({pledge_state:?}) has {refunds} provider refunds",
                        pledge.id
                    ));
                }
                let allowed: &[&str] = if pledge.cancelled {
                    &["cancelled"]
                } else {
                    &["held", "paid_out", "refunded"]
                };
                if !pledge_state
                    .as_deref()
                    .is_some_and(|s| allowed.contains(&s))
                {
                    problems.push(format!(
                        "pledge {} paid at the provider but escrow has it {pledge_state:?} \
                         (cancelled in the model: {})",
                        pledge.id, pledge.cancelled
                    ));
                }
            } else if donations.contains(&amount) {
                if !matches!(donation_state.as_deref(), Some("received" | "paid_out")) {
                    problems.push(format!(
                        "donation of {amount} paid at the provider but escrow has it \
                         {donation_state:?}"
                    ));
                }
                if refunds != 0 {
                    problems.push(format!("donation of {amount} refunded {refunds} times"));
                }
            } else {
                problems.push(format!(
                    "payment {payment} of {amount} the campaign never made ({pledge_state:?}, \
                     {donation_state:?})"
                ));
            }
        }
        for amount in pledges.keys().chain(donations.iter()) {
            if !paid.contains(amount) {
                problems.push(format!("no succeeded payment of {amount}"));
            }
        }
        Ok(problems)
    }

    /// The AppView holds exactly escrow's ledger feed: each entry once, in its latest state.
    async fn check_feed(&self) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let escrow: BTreeMap<String, (String, i64)> = steps::ledger_entries(self.world)
                .await
                .into_iter()
                .map(|e| (e.id, (e.state, e.amount)))
                .collect();
            let appview: BTreeMap<String, (String, i64)> =
                sqlx::query_as::<_, (String, String, i64)>(
                    "SELECT id, state, amount FROM appview.escrow_entry",
                )
                .fetch_all(&self.appview_db)
                .await?
                .into_iter()
                .map(|(id, state, amount)| (id, (state, amount)))
                .collect();
            if escrow == appview {
                return Ok(());
            }
            if Instant::now() > deadline {
                let differ: Vec<_> = escrow
                    .iter()
                    .filter(|(id, e)| appview.get(*id) != Some(e))
                    .map(|(id, e)| (id, e, appview.get(id)))
                    .collect();
                let extra: Vec<_> = appview
                    .keys()
                    .filter(|id| !escrow.contains_key(*id))
                    .collect();
                bail!("the AppView's escrow entries differ from the feed: {differ:?}, extra {extra:?}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    fn process(&self, service: Service) -> Result<&ServiceProcess> {
        self.processes
            .iter()
            .find(|p| p.service == service)
            .ok_or_else(|| anyhow!("no {service:?} process"))
    }

    /// `greenlight-escrow reconcile`, once escrow has no money movement in flight (a
    /// reserved job has called the provider, or is about to, before the ledger posts it).
    async fn reconcile(&self) -> Result<()> {
        let escrow = self.process(Service::Escrow)?;
        let mut last = String::new();
        for _ in 0..5 {
            self.wait_for_quiet_escrow().await?;
            let output = escrow.run_command(&["reconcile"]).await?;
            if output.status.success() {
                return Ok(());
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        bail!("greenlight-escrow reconcile failed five times in a row:\n{last}")
    }

    async fn wait_for_quiet_escrow(&self) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let busy: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM escrow.job WHERE state = 'reserved'
                    OR (state = 'ready' AND run_after <= now() + interval '1 second')",
            )
            .fetch_one(&self.escrow_db)
            .await?;
            if busy == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("escrow still has {busy} jobs due or reserved");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `greenlight-appview rebuild` changes nothing: the incremental aggregates equal a
    /// recomputation. The rebuild commits, so a writer in between (the indexer, the feed
    /// follower) would make a difference that is no bug: the inputs are fingerprinted
    /// around the comparison, and a comparison they changed under is made again.
    async fn check_rebuild(&self) -> Result<()> {
        let appview = self.process(Service::AppView)?;
        for _ in 0..5 {
            let before = self.inputs_fingerprint().await?;
            let incremental = self.aggregates().await?;
            let output = appview.run_command(&["rebuild"]).await?;
            if !output.status.success() {
                bail!(
                    "greenlight-appview rebuild failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            let rebuilt = self.aggregates().await?;
            let after = self.inputs_fingerprint().await?;
            if before != after {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            if incremental != rebuilt {
                let differ: Vec<String> = incremental
                    .iter()
                    .zip(&rebuilt)
                    .flat_map(|(a, b)| {
                        let a: BTreeSet<String> = a.iter().map(Value::to_string).collect();
                        let b: BTreeSet<String> = b.iter().map(Value::to_string).collect();
                        let only_a: Vec<String> = a
                            .difference(&b)
                            .map(|v| format!("incremental {v}"))
                            .collect();
                        let only_b: Vec<String> =
                            b.difference(&a).map(|v| format!("rebuilt {v}")).collect();
                        only_a.into_iter().chain(only_b)
                    })
                    .collect();
                bail!(
                    "the aggregates differ from a rebuild:\n{}",
                    differ.join("\n")
                );
            }
            return Ok(());
        }
        bail!("the AppView's inputs kept changing during five rebuild comparisons")
    }

    /// What the aggregates are a function of.
    async fn inputs_fingerprint(&self) -> Result<String> {
        Ok(sqlx::query_scalar(
            "SELECT md5(coalesce((SELECT string_agg(uri || cid || rev || hidden::text, ',' ORDER BY uri)
                                  FROM appview.record), '')
                     || coalesce((SELECT string_agg(id || seq || state, ',' ORDER BY id)
                                  FROM appview.escrow_entry), '')
                     || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text)
                                  FROM appview.proposal_anchor t), '')
                     || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text)
                                  FROM appview.project_proof t), '')
                     || coalesce((SELECT string_agg(uri || coalesce(cid, ''), ',' ORDER BY uri)
                                  FROM appview.rejected_record), ''))",
        )
        .fetch_one(&self.appview_db)
        .await?)
    }

    /// The aggregate tables, row by row (as `crates/aggregates/tests/recompute.rs` compares
    /// them).
    async fn aggregates(&self) -> Result<Vec<Vec<Value>>> {
        let mut out = Vec::new();
        for query in [
            "SELECT to_jsonb(t) - 'search' || jsonb_build_object('search', t.search::text)
             FROM appview.proposal_state t ORDER BY uri",
            "SELECT to_jsonb(t) FROM appview.estimate_state t ORDER BY uri",
            "SELECT to_jsonb(t) FROM appview.proposal_money t ORDER BY proposal",
            "SELECT to_jsonb(t) FROM appview.contribution t ORDER BY did, currency",
        ] {
            let rows: Vec<Value> = sqlx::query_scalar(query)
                .fetch_all(&self.appview_db)
                .await?;
            out.push(rows);
        }
        Ok(out)
    }

    /// The end of the campaign: every released proposal's pledges paid out and every
    /// declined one's refunded (each exactly once, which the checks then confirm).
    pub async fn settle(&mut self) -> Result<()> {
        let mut want: Vec<(String, &'static str)> = Vec::new();
        for proposal in &self.model.proposals {
            for pledge in &proposal.pledges {
                let state = match (pledge.cancelled, proposal.stage) {
                    (true, _) => "cancelled",
                    (false, Stage::Declined) => "refunded",
                    (false, Stage::Released) => "paid_out",
                    _ => "held",
                };
                want.push((pledge.id.clone(), state));
            }
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut wrong = Vec::new();
            for (id, state) in &want {
                let actual: Option<String> =
                    sqlx::query_scalar("SELECT state FROM escrow.pledge WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.escrow_db)
                        .await?;
                if actual.as_deref() != Some(*state) {
                    wrong.push(format!("{id}: {actual:?}, want {state}"));
                }
            }
            if wrong.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                bail!("pledges never settled: {wrong:#?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        self.check().await
    }

    /// The services' logs, for a failure's message.
    pub fn logs(&self) -> String {
        self.world.services.logs()
    }
}

fn merge(into: &mut Counts, from: &Counts) {
    for (name, n) in &from.kills {
        *into.kills.entry(name).or_default() += n;
    }
    into.postgres += from.postgres;
    into.backends_terminated += from.backends_terminated;
    into.webhook_duplicates += from.webhook_duplicates;
    into.webhook_delays += from.webhook_delays;
    into.duplicates_recognised += from.duplicates_recognised;
    into.records_written += from.records_written;
    into.records_deleted += from.records_deleted;
    into.pledges += from.pledges;
    into.cancellations += from.cancellations;
    into.donations += from.donations;
    into.releases += from.releases;
    into.declines += from.declines;
}

/// The campaign's stand-in for the payment provider's webhook deliveries: events the
/// sandbox recorded, signed afresh (as a provider's retry is) and posted to escrow.
#[derive(Clone)]
struct WebhookSender {
    url: String,
    secret: Vec<u8>,
    http: reqwest::Client,
}

impl WebhookSender {
    fn new(escrow: &ServiceProcess, http: reqwest::Client) -> Result<WebhookSender> {
        let bind =
            lookup(&escrow.env, "GREENLIGHT_ESCROW_BIND").context("escrow's bind address")?;
        let secret = lookup(&escrow.env, "GREENLIGHT_ESCROW_SANDBOX_WEBHOOK_SECRET")
            .unwrap_or(DEFAULT_SANDBOX_WEBHOOK_SECRET);
        Ok(WebhookSender {
            url: format!("http://{bind}/webhooks/sandbox"),
            secret: secret.as_bytes().to_vec(),
            http,
        })
    }

    /// Delivers sandbox event `id`; answers whether escrow called it a duplicate.
    async fn deliver(&self, escrow_db: &PgPool, id: &str) -> Result<bool> {
        let payload: Value = sqlx::query_scalar("SELECT payload FROM sandbox.event WHERE id = $1")
            .bind(id)
            .fetch_one(escrow_db)
            .await?;
        let body = payload.to_string().into_bytes();
        let response = self
            .http
            .post(&self.url)
            .header("stripe-signature", stripe_signature(&self.secret, &body))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            bail!("webhook {id}: HTTP {status}");
        }
        let answer: Value = response.json().await?;
        Ok(answer.get("duplicate").and_then(Value::as_bool) == Some(true))
    }

    /// The provider retrying the events of the payment of `amount` (unique in the campaign)
    /// after escrow failed to acknowledge one: a kill or a dropped database connection
    /// between the sandbox settling the payment and escrow booking it leaves the checkout
    /// closed and the pledge pending until the event arrives again. Errors only when the
    /// sandbox settled the payment without recording any event to deliver (then nothing
    /// can ever book it).
    async fn retry_payment(&self, escrow_db: &PgPool, amount: i64) -> Result<()> {
        let settled: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT p.id, p.status,
                    (SELECT count(*) FROM sandbox.event e
                     WHERE e.payload->'data'->'object'->>'id' = p.id)
             FROM sandbox.payment p WHERE p.amount = $1",
        )
        .bind(amount)
        .fetch_optional(escrow_db)
        .await?;
        let Some((payment, status, events)) = settled else {
            return Ok(());
        };
        if status != "requires_payment" && events == 0 {
            bail!(
                "sandbox payment {payment} is {status} but the sandbox recorded no event for \
                 it: escrow can never book it (the sandbox's settle_payment updates the \
                 payment and records its event in two separate statements)"
            );
        }
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sandbox.event WHERE payload->'data'->'object'->>'id' = $1",
        )
        .bind(&payment)
        .fetch_all(escrow_db)
        .await?;
        for id in ids {
            // Escrow may still be down: the next retry delivers it.
            let _ = self.deliver(escrow_db, &id).await;
        }
        Ok(())
    }
}

/// Fires one fault.
// The campaign's parts one by one, as for `operation`, which runs beside it.
#[allow(clippy::too_many_arguments)]
async fn inject(
    fault: Fault,
    processes: &mut [ServiceProcess],
    appview_db: &PgPool,
    escrow_db: &PgPool,
    http: &reqwest::Client,
    webhooks: &WebhookSender,
    redelivered: &mut BTreeSet<String>,
    delayed: &mut Vec<String>,
    counts: &mut Counts,
) -> Result<()> {
    match fault {
        Fault::Kill(service) => {
            let process = processes
                .iter_mut()
                .find(|p| p.service == service)
                .ok_or_else(|| anyhow!("no {service:?} process"))?;
            process.kill().await?;
            *counts.kills.entry(service.binary()).or_default() += 1;
            process.restart(http).await?;
        }
        Fault::Postgres => {
            let mut terminated = 0;
            for pool in [appview_db, escrow_db] {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
                     FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()
                       AND application_name <> $1",
                )
                .bind(APPLICATION_NAME)
                .fetch_one(pool)
                .await?;
                terminated += n;
            }
            counts.postgres += 1;
            counts.backends_terminated += terminated as u64;
        }
        Fault::WebhookDuplicate => {
            let newest: Option<String> = sqlx::query_scalar(
                "SELECT id FROM sandbox.event ORDER BY created_at DESC, id DESC LIMIT 1",
            )
            .fetch_optional(escrow_db)
            .await?;
            if let Some(id) = newest {
                counts.webhook_duplicates += 1;
                // Two at once: the de-duplication must hold under concurrency too. A
                // delivery escrow does not acknowledge (it may be restarting) is retried by
                // the provider: the end of the trial delivers it.
                let (a, b) = tokio::join!(
                    webhooks.deliver(escrow_db, &id),
                    webhooks.deliver(escrow_db, &id)
                );
                counts.duplicates_recognised += u64::from(a.unwrap_or(false));
                counts.duplicates_recognised += u64::from(b.unwrap_or(false));
                redelivered.remove(&id);
            }
        }
        Fault::WebhookDelayed => {
            let any: Option<String> =
                sqlx::query_scalar("SELECT id FROM sandbox.event ORDER BY random() LIMIT 1")
                    .fetch_optional(escrow_db)
                    .await?;
            if let Some(id) = any {
                counts.webhook_delays += 1;
                delayed.push(id);
            }
        }
    }
    Ok(())
}

/// One operation of the workload, chosen by `draw` against the campaign's state: an
/// estimate, a deleted estimate, a proposal moved to its next stage, a donation, a pledge,
/// a cancelled pledge.
// The campaign's parts one by one: a fault runs beside the operation and holds the
// processes mutably, so `&Campaign` cannot be passed.
#[allow(clippy::too_many_arguments)]
async fn operation(
    world: &World,
    maintainer: &Session,
    backers: &[Session],
    model: &mut Model,
    escrow_db: &PgPool,
    webhooks: &WebhookSender,
    retries: &mut u64,
    draw: u64,
) -> Result<()> {
    let mut rng = Rng::new(draw);
    let pick = |rng: &mut Rng, stages: &[Stage], model: &Model| -> Option<usize> {
        let candidates: Vec<usize> = (0..model.proposals.len())
            .filter(|i| stages.contains(&model.proposals[*i].stage))
            .collect();
        (!candidates.is_empty()).then(|| candidates[rng.below(candidates.len() as u64) as usize])
    };
    let live = [Stage::Open, Stage::Development, Stage::Preview];
    let who = rng.below(backers.len() as u64) as usize;
    let kind = rng.below(100);
    let held_pledge = |rng: &mut Rng, model: &Model| -> Option<(usize, usize)> {
        let candidates: Vec<(usize, usize)> = model
            .proposals
            .iter()
            .enumerate()
            .filter(|(_, p)| p.stage == Stage::Preview)
            .flat_map(|(i, p)| {
                p.pledges
                    .iter()
                    .enumerate()
                    .filter(|(_, pledge)| !pledge.cancelled)
                    .map(move |(j, _)| (i, j))
            })
            .collect();
        (!candidates.is_empty()).then(|| candidates[rng.below(candidates.len() as u64) as usize])
    };
    // Fall back from an operation with nothing to act on to moving a proposal on.
    let kind = match kind {
        15..=21 if model.estimates.is_empty() => 40,
        47..=61 if pick(&mut rng.clone(), &[Stage::Development], model).is_none() => 40,
        62..=86 if pick(&mut rng.clone(), &[Stage::Preview], model).is_none() => 40,
        87..=99 if held_pledge(&mut rng.clone(), model).is_none() => 40,
        other => other,
    };
    match kind {
        0..=14 => {
            let Some(i) = pick(&mut rng, &live, model) else {
                return Ok(());
            };
            let subject = model.proposals[i].proposal.clone();
            let amount = 1_000 + rng.below(50_000) as i64;
            let record = records::create(
                &backers[who],
                &records::estimate_record(subject, amount, "USD"),
                None,
            )
            .await
            .map_err(|e| anyhow!("estimate: {e}"))?;
            model
                .records
                .insert(record.uri.clone(), Some(record.cid.clone()));
            model.estimates.push((record.uri, who));
        }
        15..=21 => {
            let index = rng.below(model.estimates.len() as u64) as usize;
            let (uri, author) = model.estimates.remove(index);
            records::delete(&backers[author], &uri)
                .await
                .map_err(|e| anyhow!("deleting an estimate: {e}"))?;
            model.records.insert(uri, None);
        }
        22..=46 => {
            // The furthest stages first, so proposals reach their money's end (payout,
            // refunds) rather than piling up open.
            let wanted: &[Stage] = match rng.below(4) {
                0 | 1 => &[Stage::Preview],
                2 => &[Stage::Development],
                _ => &[Stage::Open],
            };
            let Some(i) = pick(&mut rng, wanted, model).or_else(|| pick(&mut rng, &live, model))
            else {
                return Ok(());
            };
            advance(world, maintainer, model, i, &mut rng).await?;
        }
        47..=61 => {
            let Some(i) = pick(&mut rng, &[Stage::Development], model) else {
                return Ok(());
            };
            let proposal = model.proposals[i].proposal.clone();
            let amount = model.amount();
            let key = pledging::new_idempotency_key();
            let donor = &backers[who];
            retry("donating", retries, async || {
                match pledging::donate(donor, &world.escrow, &proposal, amount, "USD", &key).await {
                    Ok(_) => Ok(()),
                    // A retry whose checkout completed meanwhile answers the checkout
                    // closed: the donation is escrow's now.
                    Err(error) => {
                        webhooks.retry_payment(escrow_db, amount).await?;
                        let state: Option<String> = sqlx::query_scalar(
                            "SELECT state FROM escrow.donation WHERE amount = $1",
                        )
                        .bind(amount)
                        .fetch_optional(escrow_db)
                        .await?;
                        if matches!(state.as_deref(), Some("received" | "paid_out")) {
                            Ok(())
                        } else {
                            Err(anyhow!("donation: {error}"))
                        }
                    }
                }
            })
            .await?;
            model.proposals[i].donations.push(amount);
        }
        62..=86 => {
            let Some(i) = pick(&mut rng, &[Stage::Preview], model) else {
                return Ok(());
            };
            let proposal = model.proposals[i].proposal.clone();
            let amount = model.amount();
            let key = pledging::new_idempotency_key();
            let backer = &backers[who];
            let pledged = retry("pledging", retries, async || {
                match pledging::pledge(backer, &world.escrow, &proposal, amount, "USD", &key).await
                {
                    Ok(pledged) => Ok(pledged),
                    Err(error) => {
                        webhooks.retry_payment(escrow_db, amount).await?;
                        Err(anyhow!("pledge: {error}"))
                    }
                }
            })
            .await?;
            model
                .records
                .insert(pledged.record.uri.clone(), Some(pledged.record.cid.clone()));
            model.proposals[i].pledges.push(PledgeModel {
                id: pledged.pledge.id,
                record: pledged.record.uri,
                amount,
                backer: who,
                cancelled: false,
            });
        }
        _ => {
            let Some((i, j)) = held_pledge(&mut rng, model) else {
                return Ok(());
            };
            let pledge = model.proposals[i].pledges[j].clone();
            let backer = &backers[pledge.backer];
            retry("cancelling a pledge", retries, async || {
                pledging::cancel(backer, &world.escrow, &pledge.id, Some(&pledge.record))
                    .await
                    .map_err(|e| anyhow!("cancel: {e}"))
            })
            .await?;
            model.proposals[i].pledges[j].cancelled = true;
            model.records.insert(pledge.record, None);
        }
    }
    Ok(())
}

/// Posts the proposal's next stage as the maintainer and waits until the AppView shows it.
async fn advance(
    world: &World,
    maintainer: &Session,
    model: &mut Model,
    i: usize,
    rng: &mut Rng,
) -> Result<()> {
    let proposal = model.proposals[i].proposal.clone();
    let (stage, shown, next) = match model.proposals[i].stage {
        Stage::Open => (
            steps::development(10_000, "USD"),
            "development",
            Stage::Development,
        ),
        Stage::Development => (steps::preview(), "preview", Stage::Preview),
        Stage::Preview if rng.below(10) < 7 => (steps::release(), "released", Stage::Released),
        Stage::Preview => (steps::decline("Not now."), "declined", Stage::Declined),
        Stage::Released | Stage::Declined => return Ok(()),
    };
    let record = records::create(
        maintainer,
        &records::status_record(proposal.clone(), stage),
        None,
    )
    .await
    .map_err(|e| anyhow!("status: {e}"))?;
    model
        .records
        .insert(record.uri.clone(), Some(record.cid.clone()));
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(Some(view)) = world.appview.get_proposal(&proposal.uri).await {
            if view.get("stage").and_then(Value::as_str) == Some(shown) {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!("the AppView never showed {} {shown}", proposal.uri);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    model.proposals[i].stage = next;
    Ok(())
}

/// The campaign's settings from the environment: trials (`GREENLIGHT_FAULT_TRIALS`, default
/// 50), seed (`GREENLIGHT_FAULT_SEED`, default from the clock, printed), and an optional
/// time budget in seconds after which no new trial starts (`GREENLIGHT_FAULT_MAX_SECONDS`).
pub fn settings() -> Result<(u64, u64, Option<Duration>)> {
    let number = |name: &str| -> Result<Option<u64>> {
        std::env::var(name)
            .ok()
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .with_context(|| format!("{name}={v}"))
            })
            .transpose()
    };
    let trials = number("GREENLIGHT_FAULT_TRIALS")?.unwrap_or(50);
    let seed = match number("GREENLIGHT_FAULT_SEED")? {
        Some(seed) => seed,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default(),
    };
    let budget = number("GREENLIGHT_FAULT_MAX_SECONDS")?.map(Duration::from_secs);
    Ok((trials, seed, budget))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_draws_the_same_schedule() {
        let a = format!("{:?}", schedule(42));
        assert_eq!(a, format!("{:?}", schedule(42)));
        assert_ne!(a, format!("{:?}", schedule(43)));
        assert!(schedule(7).iter().any(|step| step.fault.is_some()));
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231, test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
