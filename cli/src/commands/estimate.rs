//! `estimate`: what someone would pay for a proposal (no money moves).

use clap::Args;
use greenlight_cli::money::minor_units;
use greenlight_cli::output::{money, Output};
use greenlight_cli::records;
use serde_json::json;

use super::{Context, ProposalArg};

#[derive(Args)]
pub struct EstimateArgs {
    #[command(flatten)]
    proposal: ProposalArg,
    /// Amount, e.g. 25 or 12.50.
    amount: String,
    /// Currency; by default the proposal's, as the AppView reports it.
    #[arg(long)]
    currency: Option<String>,
}

pub async fn run(args: EstimateArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    let session = context.session().await?;
    let subject = args.proposal.resolve(&session).await?;
    let currency = context.currency(args.currency, &subject.uri).await?;
    let amount = minor_units(&args.amount, &currency)?;
    let written = records::create(
        &session,
        &records::estimate_record(subject, amount, &currency),
        None,
    )
    .await?;
    context.save(&session).await?;
    output.emit(
        &format!("estimated {}: {}", money(amount, &currency), written.uri),
        &json!(written),
    );
    Ok(())
}
