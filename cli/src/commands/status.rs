//! `status development|preview|release|decline`: a maintainer moves a proposal to a stage.

use clap::Subcommand;
use greenlight_cli::money::minor_units;
use greenlight_cli::output::Output;
use greenlight_cli::records;
use greenlight_cli::CliError;
use greenlight_lexicon::fund::greenlight::status::{
    Decline, Development, Preview, Release, StatusStage,
};
use serde_json::json;

use super::{Context, ProposalArg};

#[derive(Subcommand)]
pub enum StatusCommand {
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

pub async fn run(command: StatusCommand, context: &Context, output: Output) -> anyhow::Result<()> {
    let session = context.session().await?;
    let (proposal, stage, name) = stage(command, context).await?;
    let subject = proposal.resolve(&session).await?;
    let written = records::create(&session, &records::status_record(subject, stage), None).await?;
    context.save(&session).await?;
    output.emit(
        &format!("posted {name} status: {}", written.uri),
        &json!(written),
    );
    Ok(())
}

/// The proposal, the stage to post and its name.
async fn stage(
    command: StatusCommand,
    context: &Context,
) -> Result<(ProposalArg, StatusStage, &'static str), CliError> {
    Ok(match command {
        StatusCommand::Development {
            proposal,
            goal,
            currency,
            note,
        } => {
            let currency = context.currency(currency, &proposal.proposal).await?;
            let goal = minor_units(&goal, &currency)?;
            let development = Development {
                goal,
                currency,
                note,
            };
            (
                proposal,
                StatusStage::Development(development),
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
            let preview = Preview {
                url,
                instructions,
                ends_at: ends_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            };
            (proposal, StatusStage::Preview(preview), "preview")
        }
        StatusCommand::Release {
            proposal,
            source_url,
            license,
            revision,
        } => {
            let release = Release {
                source_url,
                revision,
                license,
            };
            (proposal, StatusStage::Release(release), "release")
        }
        StatusCommand::Decline { proposal, reason } => (
            proposal,
            StatusStage::Decline(Decline { reason }),
            "decline",
        ),
    })
}
