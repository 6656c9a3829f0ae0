//! `pledge` and `pledge cancel`: money into escrow for a proposal in preview, and back out.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use greenlight_cli::money::minor_units;
use greenlight_cli::output::{money, Output};
use greenlight_cli::{pledging, records, CliError};
use serde_json::json;

use super::Context;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PledgeArgs {
    #[command(subcommand)]
    pub cancel: Option<PledgeCommand>,
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
pub enum PledgeCommand {
    /// Cancel a pledge during the preview (refunded).
    Cancel {
        /// The receipt: escrow's pledge id.
        receipt: String,
        /// Your pledge record to delete with it.
        #[arg(long)]
        record: Option<String>,
    },
}

pub async fn run(args: PledgeArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    match args.cancel {
        Some(PledgeCommand::Cancel { receipt, record }) => {
            cancel(&receipt, record.as_deref(), context, output).await
        }
        None => pledge(args, context, output).await,
    }
}

async fn pledge(args: PledgeArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    let (Some(proposal), Some(amount)) = (args.proposal, args.amount) else {
        return Err(CliError::InvalidArgument(
            "usage: greenlight pledge <PROPOSAL> <AMOUNT>".into(),
        )
        .into());
    };
    let session = context.session().await?;
    let escrow = context.escrow().await?;
    let subject = records::resolve_ref(&session, &proposal, args.cid.as_deref()).await?;
    let currency = context.currency(args.currency, &subject.uri).await?;
    let amount = minor_units(&amount, &currency)?;
    let key = args
        .idempotency_key
        .unwrap_or_else(pledging::new_idempotency_key);
    let pledged = pledging::pledge(&session, &escrow, &subject, amount, &currency, &key)
        .await
        .with_context(|| format!("pledging (retry with --idempotency-key {key} to resume)"))?;
    context.save(&session).await?;
    output.emit(
        &format!(
            "pledged {}; escrow holds it (receipt {}); record {}",
            money(amount, &currency),
            pledged.pledge.id,
            pledged.record.uri
        ),
        &json!(pledged),
    );
    Ok(())
}

async fn cancel(
    receipt: &str,
    record: Option<&str>,
    context: &Context,
    output: Output,
) -> anyhow::Result<()> {
    let session = context.session().await?;
    let escrow = context.escrow().await?;
    let view = pledging::cancel(&session, &escrow, receipt, record).await?;
    context.save(&session).await?;
    output.emit(
        &format!("pledge {} is {}", view.id, view.state),
        &json!(view),
    );
    Ok(())
}
