//! `pledge` and `pledge cancel`: money into escrow for a proposal in preview, and back out.

use clap::{Args, Subcommand};
use greenlight_cli::output::{money, Output};
use greenlight_cli::{pledging, CliError};
use serde_json::json;

use super::{Context, PaymentArgs};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PledgeArgs {
    #[command(subcommand)]
    pub cancel: Option<PledgeCommand>,
    /// The pledge: required unless cancelling.
    #[command(flatten)]
    pub payment: Option<PaymentArgs>,
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
    let Some(args) = args.payment else {
        return Err(CliError::InvalidArgument(
            "usage: greenlight pledge <PROPOSAL> <AMOUNT>".into(),
        )
        .into());
    };
    let (payment, pledged) = context
        .pay(args, "pledging", async |p| {
            let key = &p.idempotency_key;
            pledging::pledge(
                &p.session,
                &p.escrow,
                &p.subject,
                p.amount,
                &p.currency,
                key,
            )
            .await
        })
        .await?;
    output.emit(
        &format!(
            "pledged {}; escrow holds it (receipt {}); record {}",
            money(payment.amount, &payment.currency),
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
    let record = record.map(|uri| session.own_uri(uri)).transpose()?;
    let view = pledging::cancel(&session, &escrow, receipt, record.as_deref()).await?;
    context.save(&session).await?;
    output.emit(
        &format!("pledge {} is {}", view.id, view.state),
        &json!(view),
    );
    Ok(())
}
