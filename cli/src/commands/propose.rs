//! `propose`: a feature request for a project record or a bare repository.

use clap::Args;
use greenlight_cli::output::Output;
use greenlight_cli::records::{self, ProposalTarget};
use greenlight_cli::CliError;
use serde_json::json;

use super::Context;

#[derive(Args)]
pub struct ProposeArgs {
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
}

pub async fn run(args: ProposeArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    let session = context.session().await?;
    let target = match (args.project, args.repository) {
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
        &records::proposal_record(target, &args.title, &args.body, args.tags),
        None,
    )
    .await?;
    context.save(&session).await?;
    output.emit(
        &format!("proposed {:?}: {}", args.title, written.uri),
        &json!(written),
    );
    Ok(())
}
