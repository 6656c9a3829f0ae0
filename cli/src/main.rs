//! `greenlight`: the command-line client. Log in to a PDS, write `fund.greenlight.*`
//! records, pledge through escrow, and read totals from the AppView.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use greenlight_cli::appview_client::AppViewClient;
use greenlight_cli::demo::{self, DemoConfig};
use greenlight_cli::demo_forge::DemoForge;
use greenlight_cli::escrow_client::EscrowClient;
use greenlight_cli::money::minor_units;
use greenlight_cli::output::{money, Output};
use greenlight_cli::records::{self, NewProject, ProposalTarget};
use greenlight_cli::session::{default_session_path, Session};
use greenlight_cli::{pledging, CliError};
use greenlight_lexicon::fund::greenlight::status::{
    Decline, Development, Preview, Release, StatusStage,
};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "greenlight",
    version,
    about = "Fund open-source features on the AT Protocol"
)]
struct Cli {
    /// Print JSON for scripts instead of sentences.
    #[arg(long, global = true)]
    json: bool,
    /// Where the login session is kept.
    #[arg(long, global = true, env = "GREENLIGHT_SESSION")]
    session: Option<PathBuf>,
    /// The AppView (for `show` and for learning a proposal's currency).
    #[arg(
        long,
        global = true,
        env = "GREENLIGHT_APPVIEW_URL",
        default_value = "http://127.0.0.1:2584"
    )]
    appview: String,
    /// The escrow service (for pledges and disputes).
    #[arg(
        long,
        global = true,
        env = "GREENLIGHT_ESCROW_URL",
        default_value = "http://127.0.0.1:2585"
    )]
    escrow: String,
    /// Escrow's DID; read from its /.well-known/did.json when not given.
    #[arg(long, global = true, env = "GREENLIGHT_ESCROW_DID")]
    escrow_did: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in with a handle or DID and an app password; the session is kept for later commands.
    Login {
        /// Handle (alice.example.com) or DID.
        identifier: String,
        /// App password (or set GREENLIGHT_APP_PASSWORD).
        #[arg(env = "GREENLIGHT_APP_PASSWORD", hide_env_values = true)]
        password: String,
        /// The PDS hosting the account.
        #[arg(
            long,
            env = "GREENLIGHT_PDS_URL",
            default_value = "http://localhost:2583"
        )]
        pds: String,
    },
    /// Forget the stored session.
    Logout,
    /// Projects you maintain.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Propose a feature for a project record or for a repository not on Greenlight yet.
    Propose {
        /// AT-URI of the project record.
        #[arg(required_unless_present = "repository", conflicts_with = "repository")]
        project: Option<String>,
        /// A repository URL instead of a project record.
        #[arg(long)]
        repository: Option<String>,
        /// Short title (at most 120 graphemes).
        #[arg(long)]
        title: String,
        /// What and why, in Markdown.
        #[arg(long, default_value = "")]
        body: String,
        /// Topic tags (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Say what you would pay for a proposal (no money moves).
    Estimate {
        #[command(flatten)]
        proposal: ProposalArg,
        /// Amount, e.g. 25 or 12.50.
        amount: String,
        /// Currency; by default the proposal's, as the AppView reports it.
        #[arg(long)]
        currency: Option<String>,
    },
    /// Move a proposal to a stage (project maintainers only).
    #[command(subcommand)]
    Status(StatusCommand),
    /// Pledge money into escrow for a proposal in preview, or cancel a pledge.
    Pledge(PledgeArgs),
    /// Dispute a released proposal during verification (backers only).
    Dispute {
        #[command(flatten)]
        proposal: ProposalArg,
        /// What is wrong with the release.
        #[arg(long)]
        reason: String,
        /// Links supporting the claim (repeatable).
        #[arg(long)]
        evidence: Vec<String>,
    },
    /// Show a proposal's stage and funding totals from the AppView.
    Show {
        /// AT-URI of the proposal.
        uri: String,
    },
    /// Delete one of your records by AT-URI.
    Delete {
        /// AT-URI of the record.
        uri: String,
    },
    /// Seed demo accounts, projects and proposals in every stage (local networks only).
    DemoSeed {
        /// The local PDS (accounts are created there without invites).
        #[arg(
            long,
            env = "GREENLIGHT_PDS_URL",
            default_value = "http://localhost:2583"
        )]
        pds: String,
        /// The directory the demo forge (`demo-forge`) serves repositories from.
        #[arg(long, env = "GREENLIGHT_DEMO_FORGE_DIR")]
        forge_dir: std::path::PathBuf,
        /// Where the demo forge is reached.
        #[arg(long, env = "GREENLIGHT_DEMO_FORGE_URL")]
        forge_url: String,
    },
    /// Serve the demo's stand-in code forge: raw files of repositories in a directory, in the
    /// layout Forgejo and Codeberg use (local demos only; nothing here reaches a real forge).
    DemoForge {
        /// The directory holding `<owner>/<repo>/<path>` files.
        #[arg(long, env = "GREENLIGHT_DEMO_FORGE_DIR")]
        dir: std::path::PathBuf,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:2586")]
        bind: String,
    },
}

#[derive(Args)]
struct ProposalArg {
    /// AT-URI of the proposal record.
    proposal: String,
    /// The proposal's CID (read from your PDS when not given).
    #[arg(long)]
    cid: Option<String>,
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Create a project record in your repo.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// What the project is, in Markdown.
        #[arg(long, default_value = "")]
        description: String,
        /// Public repository where releases land.
        #[arg(long)]
        repository: String,
        /// Home page.
        #[arg(long)]
        website: Option<String>,
        /// ISO 4217 currency of every amount.
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Other DIDs allowed to post status (repeatable).
        #[arg(long = "maintainer")]
        maintainers: Vec<String>,
        /// Record key (a short slug); a TID when omitted.
        #[arg(long)]
        rkey: Option<String>,
    },
    /// Ask the AppView to check now that the project's repository (or website) publishes the
    /// proof naming it; only proven projects take money.
    Check {
        /// AT-URI of the project record.
        project: String,
    },
    /// Accept to maintain a project that lists you (writes a fund.greenlight.maintainer
    /// record; delete it to withdraw).
    Accept {
        /// AT-URI of the project record.
        project: String,
    },
}

#[derive(Subcommand)]
enum StatusCommand {
    /// Development has started, with a funding goal.
    Development {
        #[command(flatten)]
        proposal: ProposalArg,
        /// Funding goal, e.g. 1500.
        #[arg(long)]
        goal: String,
        /// Currency; by default the proposal's.
        #[arg(long)]
        currency: Option<String>,
        /// A note to backers.
        #[arg(long)]
        note: Option<String>,
    },
    /// A public preview is up; pledges open until it ends.
    Preview {
        #[command(flatten)]
        proposal: ProposalArg,
        /// Where to try it.
        #[arg(long)]
        url: String,
        /// How to try it, in Markdown.
        #[arg(long, default_value = "")]
        instructions: String,
        /// When the preview ends (RFC 3339).
        #[arg(long, conflicts_with = "days")]
        ends_at: Option<String>,
        /// Or: how many days from now it ends.
        #[arg(long, default_value_t = 14)]
        days: i64,
    },
    /// Released as open source; verification starts.
    Release {
        #[command(flatten)]
        proposal: ProposalArg,
        /// Public URL of the released source.
        #[arg(long)]
        source_url: String,
        /// SPDX license expression.
        #[arg(long)]
        license: String,
        /// Commit or tag.
        #[arg(long)]
        revision: Option<String>,
    },
    /// Will not be built; every pledge is refunded.
    Decline {
        #[command(flatten)]
        proposal: ProposalArg,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct PledgeArgs {
    #[command(subcommand)]
    cancel: Option<PledgeCommand>,
    /// AT-URI of the proposal.
    #[arg(required = true)]
    proposal: Option<String>,
    /// Amount, e.g. 20 or 12.50.
    #[arg(required = true)]
    amount: Option<String>,
    /// The proposal's CID (read from your PDS when not given).
    #[arg(long)]
    cid: Option<String>,
    /// Currency; by default the proposal's.
    #[arg(long)]
    currency: Option<String>,
    /// Reuse the key of an interrupted pledge to resume it instead of paying twice.
    #[arg(long)]
    idempotency_key: Option<String>,
}

#[derive(Subcommand)]
enum PledgeCommand {
    /// Cancel a pledge during the preview (refunded).
    Cancel {
        /// The receipt: escrow's pledge id.
        receipt: String,
        /// Your pledge record to delete with it.
        #[arg(long)]
        record: Option<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let output = Output { json: cli.json };
    match run(cli, output).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            output.error(&error);
            std::process::ExitCode::FAILURE
        }
    }
}

struct Endpoints {
    session_path: PathBuf,
    appview: AppViewClient,
    escrow_url: String,
    escrow_did: Option<String>,
}

impl Endpoints {
    async fn session(&self) -> Result<Session, CliError> {
        Session::load(&self.session_path).await
    }

    async fn escrow(&self) -> Result<EscrowClient, CliError> {
        match &self.escrow_did {
            Some(did) => Ok(EscrowClient::new(&self.escrow_url, did)),
            None => EscrowClient::discover(&self.escrow_url).await,
        }
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

async fn run(cli: Cli, output: Output) -> anyhow::Result<()> {
    let context = Endpoints {
        session_path: cli.session.clone().unwrap_or_else(default_session_path),
        appview: AppViewClient::new(&cli.appview),
        escrow_url: cli.escrow.clone(),
        escrow_did: cli.escrow_did.clone(),
    };
    match cli.command {
        Command::Login {
            identifier,
            password,
            pds,
        } => {
            let session = Session::login(&pds, &identifier, &password).await?;
            session.save(&context.session_path).await?;
            output.emit(
                &format!("logged in as @{} ({}) on {}", session.handle(), session.did(), session.pds_url()),
                &json!({ "did": session.did(), "handle": session.handle(), "pds": session.pds_url() }),
            );
        }
        Command::Logout => {
            match std::fs::remove_file(&context.session_path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error).context("removing the session file"),
            }
            output.emit("logged out", &json!({ "loggedOut": true }));
        }
        Command::Project(ProjectCommand::Create {
            name,
            description,
            repository,
            website,
            currency,
            maintainers,
            rkey,
        }) => {
            let session = context.session().await?;
            let record = records::project_record(&NewProject {
                name: name.clone(),
                description,
                repository,
                website,
                currency: currency.to_ascii_uppercase(),
                maintainers,
            });
            let written = records::create(&session, &record, rkey.as_deref()).await?;
            session.save(&context.session_path).await?;
            output.emit(
                &format!(
                    "project {name:?} created: {}\n\
                     To take money, prove the repository: add a file named .greenlight at the \
                     root of its default branch containing\n  {}\n\
                     then run `greenlight project check {}`.",
                    written.uri, written.uri, written.uri
                ),
                &json!(written),
            );
        }
        Command::Project(ProjectCommand::Check { project }) => {
            let proof = context.appview.check_project_proof(&project).await?;
            let verified = proof.get("verified").and_then(Value::as_bool) == Some(true);
            let mut human = if verified {
                format!("{project} is proven: it can take money.")
            } else {
                format!(
                    "{project} is not proven yet. Publish a file containing\n  {}\n\
                     as .greenlight at the root of the repository's default branch, or as \
                     /.well-known/greenlight on its website.",
                    proof
                        .get("expected")
                        .and_then(Value::as_str)
                        .unwrap_or(&project)
                )
            };
            for check in proof
                .get("checks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                human.push_str(&format!(
                    "\n  {:<10} {}  {}",
                    check.get("result").and_then(Value::as_str).unwrap_or("?"),
                    check.get("proofUrl").and_then(Value::as_str).unwrap_or("?"),
                    check.get("detail").and_then(Value::as_str).unwrap_or(""),
                ));
            }
            output.emit(&human, &proof);
        }
        Command::Project(ProjectCommand::Accept { project }) => {
            let session = context.session().await?;
            let subject = records::strong_ref(&session, &project).await?;
            let written =
                records::create(&session, &records::maintainer_record(subject), None).await?;
            session.save(&context.session_path).await?;
            output.emit(
                &format!(
                    "you now maintain {project}: your status records count for its proposals \
                     ({})",
                    written.uri
                ),
                &json!(written),
            );
        }
        Command::Propose {
            project,
            repository,
            title,
            body,
            tags,
        } => {
            let session = context.session().await?;
            let target = match (project, repository) {
                (Some(project), None) => {
                    ProposalTarget::Project(records::strong_ref(&session, &project).await?)
                }
                (None, Some(url)) => ProposalTarget::Repository(url),
                _ => {
                    return Err(CliError::InvalidArgument(
                        "give a project AT-URI or --repository, not both".into(),
                    )
                    .into())
                }
            };
            let written = records::create(
                &session,
                &records::proposal_record(target, &title, &body, tags),
                None,
            )
            .await?;
            session.save(&context.session_path).await?;
            output.emit(
                &format!("proposed {title:?}: {}", written.uri),
                &json!(written),
            );
        }
        Command::Estimate {
            proposal,
            amount,
            currency,
        } => {
            let session = context.session().await?;
            let subject =
                records::resolve_ref(&session, &proposal.proposal, proposal.cid.as_deref()).await?;
            let currency = context.currency(currency, &subject.uri).await?;
            let amount = minor_units(&amount, &currency)?;
            let written = records::create(
                &session,
                &records::estimate_record(subject, amount, &currency),
                None,
            )
            .await?;
            session.save(&context.session_path).await?;
            output.emit(
                &format!("estimated {}: {}", money(amount, &currency), written.uri),
                &json!(written),
            );
        }
        Command::Status(command) => {
            let session = context.session().await?;
            let (proposal, stage, name) = match command {
                StatusCommand::Development {
                    proposal,
                    goal,
                    currency,
                    note,
                } => {
                    let currency = context.currency(currency, &proposal.proposal).await?;
                    let goal = minor_units(&goal, &currency)?;
                    (
                        proposal,
                        StatusStage::Development(Development {
                            goal,
                            currency,
                            note,
                        }),
                        "development",
                    )
                }
                StatusCommand::Preview {
                    proposal,
                    url,
                    instructions,
                    ends_at,
                    days,
                } => {
                    let ends_at = match ends_at {
                        Some(at) => chrono::DateTime::parse_from_rfc3339(&at)
                            .map_err(|error| {
                                CliError::InvalidArgument(format!("--ends-at {at:?}: {error}"))
                            })?
                            .with_timezone(&chrono::Utc),
                        None => chrono::Utc::now() + chrono::Duration::days(days),
                    };
                    let ends_at = ends_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    (
                        proposal,
                        StatusStage::Preview(Preview {
                            url,
                            instructions,
                            ends_at,
                        }),
                        "preview",
                    )
                }
                StatusCommand::Release {
                    proposal,
                    source_url,
                    license,
                    revision,
                } => (
                    proposal,
                    StatusStage::Release(Release {
                        source_url,
                        revision,
                        license,
                    }),
                    "release",
                ),
                StatusCommand::Decline { proposal, reason } => (
                    proposal,
                    StatusStage::Decline(Decline { reason }),
                    "decline",
                ),
            };
            let subject =
                records::resolve_ref(&session, &proposal.proposal, proposal.cid.as_deref()).await?;
            let written =
                records::create(&session, &records::status_record(subject, stage), None).await?;
            session.save(&context.session_path).await?;
            output.emit(
                &format!("posted {name} status: {}", written.uri),
                &json!(written),
            );
        }
        Command::Pledge(PledgeArgs {
            cancel: Some(PledgeCommand::Cancel { receipt, record }),
            ..
        }) => {
            let session = context.session().await?;
            let escrow = context.escrow().await?;
            let view = pledging::cancel(&session, &escrow, &receipt, record.as_deref()).await?;
            session.save(&context.session_path).await?;
            output.emit(
                &format!("pledge {} is {}", view.id, view.state),
                &json!(view),
            );
        }
        Command::Pledge(PledgeArgs {
            cancel: None,
            proposal,
            amount,
            cid,
            currency,
            idempotency_key,
        }) => {
            let (Some(proposal), Some(amount)) = (proposal, amount) else {
                return Err(CliError::InvalidArgument(
                    "usage: greenlight pledge <PROPOSAL> <AMOUNT>".into(),
                )
                .into());
            };
            let session = context.session().await?;
            let escrow = context.escrow().await?;
            let subject = records::resolve_ref(&session, &proposal, cid.as_deref()).await?;
            let currency = context.currency(currency, &subject.uri).await?;
            let amount = minor_units(&amount, &currency)?;
            let key = idempotency_key.unwrap_or_else(pledging::new_idempotency_key);
            let pledged = pledging::pledge(&session, &escrow, &subject, amount, &currency, &key)
                .await
                .with_context(|| {
                    format!("pledging (retry with --idempotency-key {key} to resume)")
                })?;
            session.save(&context.session_path).await?;
            output.emit(
                &format!(
                    "pledged {}; escrow holds it (receipt {}); record {}",
                    money(amount, &currency),
                    pledged.pledge.id,
                    pledged.record.uri
                ),
                &json!(pledged),
            );
        }
        Command::Dispute {
            proposal,
            reason,
            evidence,
        } => {
            let session = context.session().await?;
            let escrow = context.escrow().await?;
            let subject =
                records::resolve_ref(&session, &proposal.proposal, proposal.cid.as_deref()).await?;
            let key = format!("dispute-{}", uuid::Uuid::new_v4());
            let filed = escrow
                .file_dispute(&session, &subject, &reason, &evidence, &key)
                .await?;
            let written = records::create(
                &session,
                &records::dispute_record(subject, &reason, evidence),
                None,
            )
            .await?;
            session.save(&context.session_path).await?;
            output.emit(
                &format!(
                    "dispute filed with escrow ({}); record {}",
                    filed.get("id").and_then(Value::as_str).unwrap_or("?"),
                    written.uri
                ),
                &json!({ "dispute": filed, "record": written }),
            );
        }
        Command::Show { uri } => {
            let view = context.appview.get_proposal(&uri).await?.ok_or_else(|| {
                CliError::InvalidArgument(format!("the AppView does not know {uri} (yet)"))
            })?;
            let totals = view.get("totals").cloned().unwrap_or(Value::Null);
            let currency = view
                .get("currency")
                .and_then(Value::as_str)
                .unwrap_or("USD");
            let number = |name: &str| totals.get(name).and_then(Value::as_i64).unwrap_or(0);
            let mut human = format!(
                "{}\n  stage     {}\n  estimates {} from {} people ({} capped)\n  held      {} from {} backers\n  paid out  {}\n  refunded  {}",
                view.get("title").and_then(Value::as_str).unwrap_or("(untitled)"),
                view.get("stage").and_then(Value::as_str).unwrap_or("?"),
                money(number("estimateTotal"), currency),
                number("estimateCount"),
                number("cappedEstimateCount"),
                money(number("pledgedHeld"), currency),
                number("backerCount"),
                money(number("paidOut"), currency),
                money(number("refunded"), currency),
            );
            if let Some(goal) = view.get("goal").and_then(Value::as_i64) {
                human.push_str(&format!("\n  goal      {}", money(goal, currency)));
            }
            output.emit(&human, &view);
        }
        Command::Delete { uri } => {
            let session = context.session().await?;
            records::delete(&session, &uri).await?;
            session.save(&context.session_path).await?;
            output.emit(&format!("deleted {uri}"), &json!({ "deleted": uri }));
        }
        Command::DemoForge { dir, bind } => {
            let listener = tokio::net::TcpListener::bind(&bind)
                .await
                .map_err(|error| CliError::InvalidArgument(format!("{bind}: {error}")))?;
            let forge = DemoForge::new(dir, &format!("http://{bind}"))?;
            output.emit(
                &format!("demo forge serving on http://{bind}"),
                &json!({ "url": format!("http://{bind}") }),
            );
            forge
                .serve(listener)
                .await
                .map_err(|error| CliError::InvalidArgument(format!("demo forge: {error}")))?;
        }
        Command::DemoSeed {
            pds,
            forge_dir,
            forge_url,
        } => {
            let config = DemoConfig {
                pds_url: pds,
                escrow_url: context.escrow_url.clone(),
                appview_url: cli.appview.clone(),
                forge: DemoForge::new(forge_dir, &forge_url)?,
            };
            let quiet = output.json;
            let progress = move |line: &str| {
                if !quiet {
                    println!("  {line}");
                }
            };
            let seeded = demo::seed(&config, &progress).await?;
            let mut human = String::from("seeded:");
            for proposal in &seeded.proposals {
                human.push_str(&format!(
                    "\n  [{:<11}] {}  {}",
                    proposal.stage, proposal.title, proposal.record.uri
                ));
            }
            output.emit(&human, &json!(seeded));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["greenlight", "pledge", "cancel", "p1"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Pledge(PledgeArgs {
                cancel: Some(_),
                ..
            })
        ));
        let cli = Cli::try_parse_from([
            "greenlight",
            "--json",
            "pledge",
            "at://did:plc:x/fund.greenlight.proposal/1",
            "20",
        ])
        .unwrap();
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Command::Pledge(PledgeArgs { cancel: None, .. })
        ));
        assert!(Cli::try_parse_from(["greenlight", "propose", "--title", "x"]).is_err());
    }
}
