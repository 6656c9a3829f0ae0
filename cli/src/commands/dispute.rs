//! `dispute`: a backer says a release lacks what the preview showed, during verification.

use clap::Args;
use greenlight_cli::output::Output;
use greenlight_cli::records;
use serde_json::{json, Value};

use super::{Context, ProposalArg};

#[derive(Args)]
pub struct DisputeArgs {
    #[command(flatten)]
    proposal: ProposalArg,
    /// What is wrong with the release.
    #[arg(long)]
    reason: String,
    /// Links supporting the claim (repeatable).
    #[arg(long)]
    evidence: Vec<String>,
}

pub async fn run(args: DisputeArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    let session = context.session().await?;
    let escrow = context.escrow().await?;
    let subject = args.proposal.resolve(&session).await?;
    let key = format!("dispute-{}", uuid::Uuid::new_v4());
    let filed = escrow
        .file_dispute(&session, &subject, &args.reason, &args.evidence, &key)
        .await?;
    let written = records::create(
        &session,
        &records::dispute_record(subject, &args.reason, args.evidence),
        None,
    )
    .await?;
    context.save(&session).await?;
    output.emit(
        &format!(
            "dispute filed with escrow ({}); record {}",
            filed.get("id").and_then(Value::as_str).unwrap_or("?"),
            written.uri
        ),
        &json!({ "dispute": filed, "record": written }),
    );
    Ok(())
}
