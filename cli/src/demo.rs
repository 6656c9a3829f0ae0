//! Seeding a believable demo through the real PDS: people, projects, and proposals in every
//! stage, with estimates and pledges that go through escrow's sandbox like a user's would.

use std::time::Duration;

use greenlight_client::xrpc::send;
use greenlight_client::ClientError;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::status::{
    Decline, Development, Preview, Release, StatusStage,
};
use serde::Serialize;
use serde_json::json;

use crate::appview_client::AppViewClient;
use crate::demo_forge::DemoForge;
use crate::error::CliError;
use crate::escrow_client::EscrowClient;
use crate::pledging;
use crate::records::{self, NewProject, ProposalTarget, RecordRef};
use crate::session::{http_client, Session};

/// How long the AppView may take to reflect a status before seeding gives up.
const STAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// The password of every demo account (a local, throw-away network).
pub const DEMO_PASSWORD: &str = "greenlight-demo";

/// Where the demo's services are.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The local PDS.
    pub pds_url: String,
    /// Escrow (sandbox provider).
    pub escrow_url: String,
    /// The AppView.
    pub appview_url: String,
    /// The stand-in forge the demo's repositories live on, where their proofs are published.
    pub forge: DemoForge,
}

/// A seeded proposal.
#[derive(Debug, Clone, Serialize)]
pub struct SeededProposal {
    /// Its title.
    pub title: String,
    /// The stage it was left in.
    pub stage: String,
    /// Its record.
    pub record: RecordRef,
}

/// What the seeder made.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoSeed {
    /// Handles of the accounts, all with password [`DEMO_PASSWORD`].
    pub accounts: Vec<String>,
    /// Project records.
    pub projects: Vec<RecordRef>,
    /// Proposals, one or more per stage.
    pub proposals: Vec<SeededProposal>,
    /// The retainer offer, and the agreements of its clients.
    pub retainer_offer: Option<RecordRef>,
    /// Escrow's agreement ids of the retainer clients.
    pub retainers: Vec<String>,
}

/// Creates an account on a PDS that needs no invite, or logs in when it exists already.
pub async fn create_or_login(
    pds_url: &str,
    handle: &str,
    password: &str,
) -> Result<Session, CliError> {
    let url = format!(
        "{}/xrpc/com.atproto.server.createAccount",
        pds_url.trim_end_matches('/')
    );
    let local = handle.split('.').next().unwrap_or(handle);
    let body =
        json!({ "handle": handle, "email": format!("{local}@example.com"), "password": password });
    match send(
        http_client().post(&url).json(&body),
        "PDS",
        "com.atproto.server.createAccount",
        &url,
    )
    .await
    {
        Ok(_) => {}
        Err(ClientError::Service { error, .. }) if error == "HandleNotAvailable" => {}
        Err(error) => return Err(error.into()),
    }
    Session::login(pds_url, handle, password).await
}

struct Seeder<'a> {
    appview: AppViewClient,
    escrow: EscrowClient,
    seed: DemoSeed,
    progress: &'a (dyn Fn(&str) + Sync),
}

impl Seeder<'_> {
    /// Publishes the project's proof in its repository on the demo forge and waits until the
    /// AppView has checked it: only proven projects take money.
    async fn prove(
        &self,
        forge: &DemoForge,
        owner: &str,
        repo: &str,
        project: &RecordRef,
    ) -> Result<(), CliError> {
        forge.prove(owner, repo, &project.uri)?;
        let deadline = tokio::time::Instant::now() + STAGE_TIMEOUT;
        loop {
            // Not indexed yet, or checked a moment ago: both only mean "ask again".
            if let Ok(proof) = self.appview.check_project_proof(&project.uri).await {
                if proof.get("verified").and_then(serde_json::Value::as_bool) == Some(true) {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(CliError::InvalidArgument(format!(
                    "the AppView never verified the proof of {}",
                    project.uri
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn proposal(
        &mut self,
        author: &Session,
        target: ProposalTarget,
        title: &str,
        body: &str,
        tags: &[&str],
    ) -> Result<StrongRef, CliError> {
        let record = records::proposal_record(
            target,
            title,
            body,
            tags.iter().map(|t| (*t).to_owned()).collect(),
        );
        let written = records::create(author, &record, None).await?;
        (self.progress)(&format!("proposal {title:?} by @{}", author.handle()));
        self.seed.proposals.push(SeededProposal {
            title: title.to_owned(),
            stage: "proposed".into(),
            record: written.clone(),
        });
        Ok(written.strong_ref())
    }

    async fn stage(
        &mut self,
        maintainer: &Session,
        proposal: &StrongRef,
        stage: StatusStage,
        name: &str,
    ) -> Result<(), CliError> {
        records::create(
            maintainer,
            &records::status_record(proposal.clone(), stage),
            None,
        )
        .await?;
        self.appview
            .wait_for_stage(&proposal.uri, name, STAGE_TIMEOUT)
            .await?;
        if let Some(seeded) = self
            .seed
            .proposals
            .iter_mut()
            .find(|p| p.record.uri == proposal.uri)
        {
            seeded.stage = name.to_owned();
        }
        Ok(())
    }

    async fn estimates(
        &self,
        proposal: &StrongRef,
        by: &[(&Session, i64)],
        currency: &str,
    ) -> Result<(), CliError> {
        for (who, amount) in by {
            records::create(
                who,
                &records::estimate_record(proposal.clone(), *amount, currency),
                None,
            )
            .await?;
        }
        Ok(())
    }

    async fn pledges(
        &self,
        proposal: &StrongRef,
        by: &[(&Session, i64)],
        currency: &str,
    ) -> Result<(), CliError> {
        for (who, amount) in by {
            let key = pledging::new_idempotency_key();
            pledging::pledge(who, &self.escrow, proposal, *amount, currency, &key).await?;
        }
        Ok(())
    }
}

fn days_from_now(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Seeds the demo: two maintainers with a project each, four backers, and proposals that
/// are proposed, in development, in preview (with pledges), released (verifying), declined,
/// and one about a repository not on Greenlight yet.
pub async fn seed(
    config: &DemoConfig,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<DemoSeed, CliError> {
    let pds = config.pds_url.as_str();
    let mut people = Vec::new();
    for name in ["ada", "grace", "linus", "margaret", "ken", "barbara"] {
        let handle = format!("{name}.test");
        people.push(create_or_login(pds, &handle, DEMO_PASSWORD).await?);
    }
    let [ada, grace, linus, margaret, ken, barbara] = <[Session; 6]>::try_from(people)
        .map_err(|_| CliError::InvalidArgument("demo accounts".into()))?;
    let mut seeder = Seeder {
        appview: AppViewClient::new(&config.appview_url),
        escrow: EscrowClient::discover(&config.escrow_url).await?,
        seed: DemoSeed::default(),
        progress,
    };
    seeder.seed.accounts = [&ada, &grace, &linus, &margaret, &ken, &barbara]
        .iter()
        .map(|s| s.handle().to_owned())
        .collect();
    progress(
        "accounts: ada and grace maintain projects; linus, margaret, ken and barbara back them",
    );

    let tidepool = records::create(
        &ada,
        &records::project_record(&NewProject {
            name: "Tidepool".into(),
            description: "An embeddable time-series store for Rust services: append-only columns, \
                          compression that beats gzip on metrics, and SQL over HTTP."
                .into(),
            repository: config.forge.repository_url("tidepool-db", "tidepool"),
            website: Some("https://tidepool.example".into()),
            currency: "USD".into(),
            maintainers: vec![],
        }),
        Some("tidepool"),
    )
    .await?;
    let lumen = records::create(
        &grace,
        &records::project_record(&NewProject {
            name: "Lumen".into(),
            description: "A fast static site generator with zero-config Markdown, image pipelines and live reload.".into(),
            repository: config.forge.repository_url("lumen", "lumen"),
            website: None,
            currency: "EUR".into(),
            maintainers: vec![],
        }),
        Some("lumen"),
    )
    .await?;
    seeder.seed.projects = vec![tidepool.clone(), lumen.clone()];
    progress("projects: Tidepool (USD) by @ada.test, Lumen (EUR) by @grace.test");
    seeder
        .prove(&config.forge, "tidepool-db", "tidepool", &tidepool)
        .await?;
    seeder
        .prove(&config.forge, "lumen", "lumen", &lumen)
        .await?;
    progress("proofs: each repository on the demo forge names its project in .greenlight");

    // Proposed, with estimates; one over the newcomer cap so it shows as capped.
    let parquet = seeder
        .proposal(&linus, ProposalTarget::Project(tidepool.strong_ref()), "Export to Parquet",
            "Write a time range of any series to a Parquet file so analysts can load it in DuckDB or Spark without a custom reader.",
            &["export", "parquet"])
        .await?;
    seeder
        .estimates(
            &parquet,
            &[(&linus, 2500), (&margaret, 1500), (&ken, 10000)],
            "USD",
        )
        .await?;

    // In development with a goal.
    let downsampling = seeder
        .proposal(&margaret, ProposalTarget::Project(tidepool.strong_ref()), "Downsampling retention policies",
            "Keep raw points for a week, 1-minute averages for a year, and hourly forever — configured per series prefix.",
            &["retention"])
        .await?;
    seeder
        .estimates(&downsampling, &[(&margaret, 2500), (&barbara, 2000)], "USD")
        .await?;
    seeder
        .stage(
            &ada,
            &downsampling,
            StatusStage::Development(Development {
                goal: 150_000,
                currency: "USD".into(),
                note: Some("Design doc is in the wiki; first cut in about three weeks.".into()),
            }),
            "development",
        )
        .await?;

    // In preview, with pledges held in escrow.
    let grafana = seeder
        .proposal(&ken, ProposalTarget::Project(tidepool.strong_ref()), "Native Grafana data source",
            "A Grafana plugin that speaks Tidepool's SQL directly, with query autocompletion and alerting support.",
            &["grafana", "dashboards"])
        .await?;
    seeder
        .estimates(
            &grafana,
            &[(&ken, 2500), (&linus, 2000), (&barbara, 2500)],
            "USD",
        )
        .await?;
    seeder
        .stage(
            &ada,
            &grafana,
            StatusStage::Development(Development {
                goal: 60_000,
                currency: "USD".into(),
                note: None,
            }),
            "development",
        )
        .await?;
    seeder
        .stage(
            &ada,
            &grafana,
            StatusStage::Preview(Preview {
                url: "https://preview.tidepool.example/grafana".into(),
                instructions: "Log in as `demo`/`demo` and open the *Tidepool* dashboard.".into(),
                ends_at: days_from_now(14),
            }),
            "preview",
        )
        .await?;
    seeder
        .pledges(
            &grafana,
            &[(&ken, 2500), (&linus, 2000), (&barbara, 1500)],
            "USD",
        )
        .await?;
    progress("  3 pledges held in escrow for \"Native Grafana data source\"");

    // Released: pledged during preview, now in verification.
    let incremental = seeder
        .proposal(&barbara, ProposalTarget::Project(lumen.strong_ref()), "Incremental builds",
            "Rebuild only the pages whose sources or templates changed; a 5,000-page site should rebuild in under a second.",
            &["performance"])
        .await?;
    seeder
        .estimates(&incremental, &[(&barbara, 2500), (&margaret, 2500)], "EUR")
        .await?;
    seeder
        .stage(
            &grace,
            &incremental,
            StatusStage::Development(Development {
                goal: 40_000,
                currency: "EUR".into(),
                note: None,
            }),
            "development",
        )
        .await?;
    seeder
        .stage(
            &grace,
            &incremental,
            StatusStage::Preview(Preview {
                url: "https://preview.lumen.example".into(),
                instructions: "Run `lumen serve --incremental` on your site.".into(),
                ends_at: days_from_now(7),
            }),
            "preview",
        )
        .await?;
    seeder
        .pledges(&incremental, &[(&barbara, 2500), (&margaret, 2000)], "EUR")
        .await?;
    seeder
        .stage(
            &grace,
            &incremental,
            StatusStage::Release(Release {
                source_url: "https://codeberg.org/lumen/lumen/releases/tag/v0.9.0".into(),
                revision: Some("v0.9.0".into()),
                license: "MIT".into(),
            }),
            "released",
        )
        .await?;

    // Declined after development.
    let i18n = seeder
        .proposal(
            &linus,
            ProposalTarget::Project(lumen.strong_ref()),
            "Localized routing",
            "Serve /fr/, /de/ … from one content tree with per-language front matter.",
            &["i18n"],
        )
        .await?;
    seeder.estimates(&i18n, &[(&linus, 1000)], "EUR").await?;
    seeder
        .stage(
            &grace,
            &i18n,
            StatusStage::Development(Development {
                goal: 80_000,
                currency: "EUR".into(),
                note: None,
            }),
            "development",
        )
        .await?;
    seeder
        .stage(
            &grace,
            &i18n,
            StatusStage::Decline(Decline {
                reason: "A plugin does this better; see lumen-i18n.".into(),
            }),
            "declined",
        )
        .await?;

    // About a repository that is not on Greenlight yet.
    let yaml = seeder
        .proposal(
            &margaret,
            ProposalTarget::Repository("https://github.com/example/zig-yaml".into()),
            "Streaming YAML parser",
            "Parse multi-gigabyte YAML documents event by event without loading them into memory.",
            &["parser"],
        )
        .await?;
    seeder
        .estimates(&yaml, &[(&margaret, 2500), (&ken, 1200)], "USD")
        .await?;

    seeder
        .retainers(&ada, &tidepool, &[(&margaret, true), (&ken, false)])
        .await?;
    progress("retainers: @ada.test offers three tiers for Tidepool; two companies retain her (one listed)");

    Ok(seeder.seed)
}

impl Seeder<'_> {
    /// `maintainer` offers three retainer tiers for `project`; each client asks for a quote,
    /// starts it and pays the first period's invoice through escrow's sandbox (listed ones
    /// also attribute it in their repository).
    async fn retainers(
        &mut self,
        maintainer: &Session,
        project: &RecordRef,
        clients: &[(&Session, bool)],
    ) -> Result<(), CliError> {
        use greenlight_client::escrow::QuoteRequest;
        use greenlight_lexicon::fund::greenlight::escrow::retainer_defs::BillingDetails;
        use greenlight_lexicon::fund::greenlight::retainer_offer::{Included, RetainerOffer, Tier};
        let tier = |name: &str, amount: i64, access: bool, advisory: bool, details: &str| Tier {
            name: name.into(),
            amount,
            currency: "USD".into(),
            period: "month".into(),
            included: Included {
                risk_mitigation: true,
                reciprocal_access: access,
                advisory,
                details: Some(details.into()),
            },
            seat_limit: advisory.then_some(3),
        };
        self.escrow.connect_payout_account(maintainer).await?;
        self.escrow
            .set_vendor_details(
                maintainer,
                &greenlight_lexicon::fund::greenlight::escrow::retainer_defs::VendorDetails {
                    legal_name: "Ada Lovelace Software Ltd".into(),
                    address: "7 Analytical Row\nLondon N1 9GU\nUnited Kingdom".into(),
                    tax_id: Some("GB987654321".into()),
                    email: Some("billing@tidepool.example".into()),
                },
            )
            .await?;
        let offer = RetainerOffer {
            projects: Some(vec![project.strong_ref()]),
            repositories: None,
            description: "Tidepool runs in production at companies that cannot afford it going \
                          unmaintained. A retainer keeps security fixes and releases coming, \
                          and gives your team a direct line to the maintainer."
                .into(),
            tiers: vec![
                tier(
                    "Supporter",
                    50_000,
                    false,
                    false,
                    "Security fixes and releases, named in the README.",
                ),
                tier(
                    "Partner",
                    150_000,
                    true,
                    false,
                    "A quarterly call about how you use Tidepool; a say in the roadmap.",
                ),
                tier(
                    "Advisor",
                    500_000,
                    true,
                    true,
                    "Expert advice on time-series storage beyond Tidepool, two hours a month.",
                ),
            ],
            terms_url: Some("https://tidepool.example/retainer-terms".into()),
            created_at: records::now(),
        };
        let offer = records::create(maintainer, &offer, Some("tidepool-retainer")).await?;
        // Escrow quotes from the offer as the AppView indexed it.
        let deadline = tokio::time::Instant::now() + STAGE_TIMEOUT;
        while !self
            .appview
            .get_retainer_offer(&offer.uri)
            .await
            .ok()
            .flatten()
            .is_some_and(|view| view["authorized"] == true)
        {
            if tokio::time::Instant::now() >= deadline {
                return Err(CliError::InvalidArgument(
                    "the AppView never showed the retainer offer as sellable".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let companies = [
            ("Margaret Analytics Ltd", "Partner", "invoice"),
            ("Ken's Observability GmbH", "Supporter", "card"),
        ];
        for ((client, listed), (legal_name, tier, collection)) in clients.iter().zip(companies) {
            let key = format!("demo-retainer-{}", client.did());
            let quote = self
                .escrow
                .request_quote(
                    &client.agent,
                    &QuoteRequest {
                        offer: offer.strong_ref(),
                        tier,
                        billing: BillingDetails {
                            legal_name: legal_name.into(),
                            address: "1 Harbour Street\nLondon E1 6AN\nUnited Kingdom".into(),
                            tax_id: Some("GB123456789".into()),
                            purchase_order: Some("PO-4471".into()),
                            email: None,
                        },
                        collection,
                        listed_publicly: *listed,
                        idempotency_key: &format!("{key}-quote"),
                    },
                )
                .await?;
            let started = self
                .escrow
                .start_retainer(&client.agent, &quote.id, &format!("{key}-start"))
                .await?;
            if let Some(payment) = &started.payment_url {
                greenlight_client::checkout::complete_sandbox_checkout(self.escrow.http(), payment)
                    .await?;
            }
            if *listed {
                records::create(
                    *client,
                    &records::retainer_record(offer.strong_ref(), tier, &started.id),
                    None,
                )
                .await?;
            }
            self.seed.retainers.push(started.id);
        }
        self.seed.retainer_offer = Some(offer);
        Ok(())
    }
}
