//! `demo-seed` and `demo-forge`: the local demo's accounts and records, and its stand-in forge.

use std::path::PathBuf;

use clap::Args;
use greenlight_cli::demo::{self, DemoConfig};
use greenlight_cli::demo_forge::DemoForge;
use greenlight_cli::output::Output;
use greenlight_cli::CliError;
use serde_json::json;

use super::Context;

#[derive(Args)]
pub struct DemoSeedArgs {
    /// The local PDS (accounts are created there without invites).
    #[arg(
        long,
        env = "GREENLIGHT_PDS_URL",
        default_value = "http://localhost:2583"
    )]
    pds: String,
    /// The directory the demo forge (`demo-forge`) serves repositories from.
    #[arg(long, env = "GREENLIGHT_DEMO_FORGE_DIR")]
    forge_dir: PathBuf,
    /// Where the demo forge is reached.
    #[arg(long, env = "GREENLIGHT_DEMO_FORGE_URL")]
    forge_url: String,
}

#[derive(Args)]
pub struct DemoForgeArgs {
    /// The directory holding `<owner>/<repo>/<path>` files.
    #[arg(long, env = "GREENLIGHT_DEMO_FORGE_DIR")]
    dir: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:2586")]
    bind: String,
}

pub async fn seed(args: DemoSeedArgs, context: &Context, output: Output) -> anyhow::Result<()> {
    let config = DemoConfig {
        pds_url: args.pds,
        escrow_url: context.escrow_url.clone(),
        appview_url: context.appview_url.clone(),
        forge: DemoForge::new(args.forge_dir, &args.forge_url)?,
    };
    // With --json the progress lines would break the one JSON document on stdout.
    let quiet = output.json;
    let progress = move |line: &str| {
        if !quiet {
            println!("  {line}");
        }
    };
    let seeded = demo::seed(&config, &progress).await?;
    let mut human = String::from("seeded:");
    for proposal in &seeded.proposals {
        human.push_str(&format!(
            "\n  [{:<11}] {}  {}",
            proposal.stage, proposal.title, proposal.record.uri
        ));
    }
    output.emit(&human, &json!(seeded));
    Ok(())
}

pub async fn forge(args: DemoForgeArgs, output: Output) -> anyhow::Result<()> {
    let bind = args.bind;
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|error| CliError::InvalidArgument(format!("{bind}: {error}")))?;
    let forge = DemoForge::new(args.dir, &format!("http://{bind}"))?;
    output.emit(
        &format!("demo forge serving on http://{bind}"),
        &json!({ "url": format!("http://{bind}") }),
    );
    forge
        .serve(listener)
        .await
        .map_err(|error| CliError::InvalidArgument(format!("demo forge: {error}")))?;
    Ok(())
}
