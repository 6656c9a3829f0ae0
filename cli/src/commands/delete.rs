//! `delete`: removes one of your own records.

use clap::Args;
use greenlight_cli::output::Output;
use greenlight_cli::records;
use serde_json::json;

use super::Context;

#[derive(Args)]
pub struct DeleteArgs {
    /// AT-URI of the record.
    uri: String,
}

pub async fn run(args: DeleteArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    let session = context.session().await?;
    records::delete(&session, &session.own_uri(&args.uri)?).await?;
    context.save(&session).await?;
    output.emit(
        &format!("deleted {}", args.uri),
        &json!({ "deleted": args.uri }),
    );
    Ok(())
}
