//! `project create|check|accept`: a maintainer's projects, their proof and co-maintainers.

use clap::Subcommand;
use greenlight_cli::output::Output;
use greenlight_cli::records::{self, NewProject};
use serde_json::{json, Value};

use super::Context;

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Create a project record in your repo.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// What the project is, in Markdown.
        #[arg(long, default_value = "")]
        description: String,
        /// Public repository where releases land.
        #[arg(long)]
        repository: String,
        /// Home page.
        #[arg(long)]
        website: Option<String>,
        /// ISO 4217 currency of every amount.
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Other DIDs allowed to post status (repeatable).
        #[arg(long = "maintainer")]
        maintainers: Vec<String>,
        /// Record key (a short slug); a TID when omitted.
        #[arg(long)]
        rkey: Option<String>,
    },
    /// Ask the AppView to check now that the project's repository (or website) publishes the
    /// proof naming it; only proven projects take money.
    Check {
        /// AT-URI of the project record.
        project: String,
    },
    /// Accept to maintain a project that lists you (writes a fund.greenlight.maintainer
    /// record; delete it to withdraw).
    Accept {
        /// AT-URI of the project record.
        project: String,
    },
}

pub async fn run(command: ProjectCommand, context: &Context, output: Output) -> anyhow::Result<()> {
    match command {
        ProjectCommand::Create {
            name,
            description,
            repository,
            website,
            currency,
            maintainers,
            rkey,
        } => {
            let project = NewProject {
                name,
                description,
                repository,
                website,
                currency: currency.to_ascii_uppercase(),
                maintainers,
            };
            create(project, rkey, context, output).await
        }
        ProjectCommand::Check { project } => check(&project, context, output).await,
        ProjectCommand::Accept { project } => accept(&project, context, output).await,
    }
}

async fn create(
    project: NewProject,
    rkey: Option<String>,
    context: &Context,
    output: Output,
) -> anyhow::Result<()> {
    let session = context.session().await?;
    let record = records::project_record(&project);
    let written = records::create(&session, &record, rkey.as_deref()).await?;
    context.save(&session).await?;
    output.emit(
        &format!(
            "project {:?} created: {}\n\
             To take money, prove the repository: add a file named .greenlight at the \
             root of its default branch containing\n  {}\n\
             then run `greenlight project check {}`.",
            project.name, written.uri, written.uri, written.uri
        ),
        &json!(written),
    );
    Ok(())
}

async fn check(project: &str, context: &Context, output: Output) -> anyhow::Result<()> {
    let proof = context.appview.check_project_proof(project).await?;
    let verified = proof.get("verified").and_then(Value::as_bool) == Some(true);
    let mut human = if verified {
        format!("{project} is proven: it can take money.")
    } else {
        format!(
            "{project} is not proven yet. Publish a file containing\n  {}\n\
             as .greenlight at the root of the repository's default branch, or as \
             /.well-known/greenlight on its website.",
            proof
                .get("expected")
                .and_then(Value::as_str)
                .unwrap_or(project)
        )
    };
    for check in proof
        .get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        human.push_str(&format!(
            "\n  {:<10} {}  {}",
            check.get("result").and_then(Value::as_str).unwrap_or("?"),
            check.get("proofUrl").and_then(Value::as_str).unwrap_or("?"),
            check.get("detail").and_then(Value::as_str).unwrap_or(""),
        ));
    }
    output.emit(&human, &proof);
    Ok(())
}

async fn accept(project: &str, context: &Context, output: Output) -> anyhow::Result<()> {
    let session = context.session().await?;
    let subject = records::strong_ref(&session, project).await?;
    let written = records::create(&session, &records::maintainer_record(subject), None).await?;
    context.save(&session).await?;
    output.emit(
        &format!(
            "you now maintain {project}: your status records count for its proposals ({})",
            written.uri
        ),
        &json!(written),
    );
    Ok(())
}
