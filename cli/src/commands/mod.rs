//! The `greenlight` commands, one module each: its arguments and what it does. `main.rs`
//! parses the command line into a [`Command`] and [`run`]s it with a [`Context`].

mod delete;
mod demo;
mod dispute;
mod donate;
mod estimate;
mod pledge;
mod project;
mod propose;
mod retainer;
mod session;
mod show;
mod status;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use greenlight_cli::appview_client::AppViewClient;
use greenlight_cli::escrow_client::EscrowClient;
use greenlight_cli::money::minor_units;
use greenlight_cli::output::Output;
use greenlight_cli::session::Session;
use greenlight_cli::{pledging, records, CliError, ClientError};
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use serde_json::Value;

pub use pledge::PledgeArgs;

#[derive(Subcommand)]
pub enum Command {
    /// Log in with a handle or DID and an app password; the session is kept for later commands.
    Login(session::LoginArgs),
    /// Forget the stored session.
    Logout,
    /// Projects you maintain.
    #[command(subcommand)]
    Project(project::ProjectCommand),
    /// Propose a feature for a project record or for a repository not on Greenlight yet.
    Propose(propose::ProposeArgs),
    /// Say what you would pay for a proposal (no money moves).
    Estimate(estimate::EstimateArgs),
    /// Move a proposal to a stage (project maintainers only).
    #[command(subcommand)]
    Status(status::StatusCommand),
    /// Pledge money into escrow for a proposal in preview, or cancel a pledge.
    Pledge(PledgeArgs),
    /// Donate to a proposal in development: paid to its maintainer minus the fee, not escrowed.
    Donate(donate::DonateArgs),
    /// Dispute a released proposal during verification (backers only).
    Dispute(dispute::DisputeArgs),
    /// Maintenance retainers: offers, quotes, agreements, invoices and income.
    #[command(subcommand)]
    Retainer(retainer::RetainerCommand),
    /// Show a proposal's stage and funding totals from the AppView.
    Show(show::ShowArgs),
    /// Delete one of your records by AT-URI.
    Delete(delete::DeleteArgs),
    /// Seed demo accounts, projects and proposals in every stage (local networks only).
    DemoSeed(demo::DemoSeedArgs),
    /// Serve the demo's stand-in code forge: raw files of repositories in a directory, in the
    /// layout Forgejo and Codeberg use (local demos only; nothing here reaches a real forge).
    DemoForge(demo::DemoForgeArgs),
}

/// Runs `command`.
pub async fn run(command: Command, context: &Context, output: Output) -> anyhow::Result<()> {
    match command {
        Command::Login(args) => session::login(args, context, output).await,
        Command::Logout => session::logout(context, output),
        Command::Project(command) => project::run(command, context, output).await,
        Command::Propose(args) => propose::run(args, context, output).await,
        Command::Estimate(args) => estimate::run(args, context, output).await,
        Command::Status(command) => status::run(command, context, output).await,
        Command::Pledge(args) => pledge::run(args, context, output).await,
        Command::Donate(args) => donate::run(args, context, output).await,
        Command::Dispute(args) => dispute::run(args, context, output).await,
        Command::Retainer(command) => retainer::run(command, context, output).await,
        Command::Show(args) => show::run(args, context, output).await,
        Command::Delete(args) => delete::run(args, context, output).await,
        Command::DemoSeed(args) => demo::seed(args, context, output).await,
        Command::DemoForge(args) => demo::forge(args, output).await,
    }
}

/// A proposal named on the command line.
#[derive(Args)]
pub struct ProposalArg {
    /// AT-URI of the proposal record.
    proposal: String,
    /// The proposal's CID (read from your PDS when not given).
    #[arg(long)]
    cid: Option<String>,
}

impl ProposalArg {
    /// The proposal as a strongRef, its CID read from the PDS when not given.
    async fn resolve(&self, session: &Session) -> Result<StrongRef, CliError> {
        Ok(records::resolve_ref(session, &self.proposal, self.cid.as_deref()).await?)
    }
}

/// A payment (pledge, donation) as typed on the command line.
#[derive(Args)]
pub struct PaymentArgs {
    #[command(flatten)]
    proposal: ProposalArg,
    /// Amount, e.g. 20 or 12.50.
    amount: String,
    /// Currency; by default the proposal's.
    #[arg(long)]
    currency: Option<String>,
    /// Reuse the key of an interrupted payment to resume it instead of paying twice.
    #[arg(long)]
    idempotency_key: Option<String>,
}

/// A payment ready for escrow: who pays, to which proposal, how much.
struct Payment {
    session: Session,
    escrow: EscrowClient,
    subject: StrongRef,
    currency: String,
    /// Minor units of `currency`.
    amount: i64,
    idempotency_key: String,
}

/// Where the commands find the session and the services (from the global options).
pub struct Context {
    /// The stored session's file.
    pub session_path: PathBuf,
    /// The AppView's URL.
    pub appview_url: String,
    /// Escrow's URL.
    pub escrow_url: String,
    /// Escrow's DID, when given; else read from escrow.
    pub escrow_did: Option<String>,
    pub(crate) appview: AppViewClient,
}

impl Context {
    /// A context for these addresses.
    pub fn new(
        session_path: PathBuf,
        appview_url: String,
        escrow_url: String,
        escrow_did: Option<String>,
    ) -> Context {
        Context {
            appview: AppViewClient::new(&appview_url),
            session_path,
            appview_url,
            escrow_url,
            escrow_did,
        }
    }

    /// The stored session.
    async fn session(&self) -> Result<Session, CliError> {
        Session::load(&self.session_path).await
    }

    /// Writes the session back: the PDS may have refreshed its tokens during the command.
    async fn save(&self, session: &Session) -> Result<(), CliError> {
        session.save(&self.session_path).await
    }

    async fn escrow(&self) -> Result<EscrowClient, CliError> {
        match &self.escrow_did {
            Some(did) => Ok(EscrowClient::new(&self.escrow_url, did)),
            None => EscrowClient::discover(&self.escrow_url).await,
        }
    }

    /// Pays `args` with `pay` (a pledge, a donation): resolves the proposal, reads the amount
    /// in its currency and picks the idempotency key first, and saves the session after.
    /// `what` names the payment in the hint to resume it.
    async fn pay<T>(
        &self,
        args: PaymentArgs,
        what: &str,
        pay: impl AsyncFnOnce(&Payment) -> Result<T, ClientError>,
    ) -> anyhow::Result<(Payment, T)> {
        let session = self.session().await?;
        let escrow = self.escrow().await?;
        let subject = args.proposal.resolve(&session).await?;
        let currency = self.currency(args.currency, &subject.uri).await?;
        let amount = minor_units(&args.amount, &currency)?;
        let idempotency_key = args
            .idempotency_key
            .unwrap_or_else(pledging::new_idempotency_key);
        let payment = Payment {
            session,
            escrow,
            subject,
            currency,
            amount,
            idempotency_key,
        };
        let paid = pay(&payment).await.with_context(|| {
            format!(
                "{what} (retry with --idempotency-key {} to resume)",
                payment.idempotency_key
            )
        })?;
        self.save(&payment.session).await?;
        Ok((payment, paid))
    }

    /// The currency given, else the proposal's as the AppView reports it, else USD.
    async fn currency(&self, given: Option<String>, proposal: &str) -> Result<String, CliError> {
        if let Some(currency) = given {
            return Ok(currency.to_ascii_uppercase());
        }
        let view = self.appview.get_proposal(proposal).await.ok().flatten();
        Ok(view
            .and_then(|v| v.get("currency").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| "USD".into()))
    }
}
