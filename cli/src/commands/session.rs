//! `login` and `logout`: the session kept between commands.

use anyhow::Context as _;
use clap::Args;
use greenlight_cli::output::Output;
use greenlight_cli::session::Session;
use serde_json::json;

use super::Context;

#[derive(Args)]
pub struct LoginArgs {
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
}

pub async fn login(args: LoginArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    let session = Session::login(&args.pds, &args.identifier, &args.password).await?;
    context.save(&session).await?;
    output.emit(
        &format!(
            "logged in as @{} ({}) on {}",
            session.handle(),
            session.did(),
            session.pds_url()
        ),
        &json!({ "did": session.did(), "handle": session.handle(), "pds": session.pds_url() }),
    );
    Ok(())
}

pub fn logout(context: &Context, output: Output) -> anyhow::Result<()> {
    match std::fs::remove_file(&context.session_path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).context("removing the session file"),
    }
    output.emit("logged out", &json!({ "loggedOut": true }));
    Ok(())
}
