//! `greenlight`: the command-line client. Log in to a PDS, write `fund.greenlight.*`
//! records, pledge through escrow, and read totals from the AppView. Each command lives in
//! its own module under `commands/`.

mod commands;

use std::path::PathBuf;

use clap::Parser;
use greenlight_cli::output::Output;
use greenlight_cli::session::default_session_path;

use commands::{Command, Context};

#[derive(Parser)]
#[command(
    name = "greenlight",
    version,
    about = "Fund open-source features on the AT Protocol"
)]
struct Cli {
    /// Print JSON for scripts instead of sentences.
    #[arg(long, global = true)]
    json: bool,
    /// Where the login session is kept.
    #[arg(long, global = true, env = "GREENLIGHT_SESSION")]
    session: Option<PathBuf>,
    /// The AppView (for `show` and for learning a proposal's currency).
    #[arg(
        long,
        global = true,
        env = "GREENLIGHT_APPVIEW_URL",
        default_value = "http://127.0.0.1:2584"
    )]
    appview: String,
    /// The escrow service (for pledges, donations and disputes).
    #[arg(
        long,
        global = true,
        env = "GREENLIGHT_ESCROW_URL",
        default_value = "http://127.0.0.1:2585"
    )]
    escrow: String,
    /// Escrow's DID; read from its /.well-known/did.json when not given.
    #[arg(long, global = true, env = "GREENLIGHT_ESCROW_DID")]
    escrow_did: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let output = Output { json: cli.json };
    let context = Context::new(
        cli.session.unwrap_or_else(default_session_path),
        cli.appview,
        cli.escrow,
        cli.escrow_did,
    );
    match commands::run(cli.command, &context, output).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            output.error(&error);
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commands::PledgeArgs;

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["greenlight", "pledge", "cancel", "p1"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Pledge(PledgeArgs {
                cancel: Some(_),
                ..
            })
        ));
        let cli = Cli::try_parse_from([
            "greenlight",
            "--json",
            "pledge",
            "at://did:plc:x/fund.greenlight.proposal/1",
            "20",
        ])
        .unwrap();
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Command::Pledge(PledgeArgs { cancel: None, .. })
        ));
        assert!(Cli::try_parse_from(["greenlight", "propose", "--title", "x"]).is_err());
        let cli = Cli::try_parse_from([
            "greenlight",
            "donate",
            "at://did:plc:x/fund.greenlight.proposal/1",
            "10",
            "--currency",
            "EUR",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Donate(_)));
        assert!(Cli::try_parse_from(["greenlight", "donate", "at://x"]).is_err());
    }
}
