//! `donate`: money to a proposal in development, paid to its maintainer minus the fee once
//! escrow receives it (not escrowed, no record in the donor's repo).

use clap::Args;
use greenlight_cli::output::{money, Output};
use greenlight_cli::pledging;
use serde_json::json;

use super::{Context, PaymentArgs};

#[derive(Args)]
pub struct DonateArgs {
    #[command(flatten)]
    payment: PaymentArgs,
}

pub async fn run(args: DonateArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    let (payment, donation) = context
        .pay(args.payment, "donating", async |p| {
            let key = &p.idempotency_key;
            pledging::donate(
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
            "donated {} to {}; escrow received it (donation {})",
            money(payment.amount, &payment.currency),
            payment.subject.uri,
            donation.id
        ),
        &json!(donation),
    );
    Ok(())
}
