//! `show`: a proposal's stage and funding totals, as the AppView reports them.

use clap::Args;
use greenlight_cli::output::{money, Output};
use greenlight_cli::CliError;
use serde_json::Value;

use super::Context;

#[derive(Args)]
pub struct ShowArgs {
    /// AT-URI of the proposal.
    uri: String,
}

pub async fn run(args: ShowArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    let uri = args.uri;
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
    Ok(())
}
