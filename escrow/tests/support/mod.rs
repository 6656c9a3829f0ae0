//! Shared test fixtures: an escrow on a fresh database with a manual clock, the sandbox
//! provider, and an in-process stand-in for the AppView ([`InMemoryProposals`]) that the
//! tests move through stages. Every test ends with [`Harness::assert_books_sound`], which
//! fails the test on any invariant violation.
#![allow(dead_code)]

pub mod appview;
pub mod offers;
pub mod process;
pub mod tokens;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use greenlight_escrow::clock::ManualClock;
use greenlight_escrow::config::Config;
use greenlight_escrow::failpoint::FailPoints;
use greenlight_escrow::ledger::invariants;
use greenlight_escrow::lifecycle::{self, TickReport};
use greenlight_escrow::procedures::{payout_account, pledge};
use greenlight_escrow::proposal_source::{InMemoryProposals, ProposalInfo, Stage};
use greenlight_escrow::provider::sandbox::SandboxProvider;
use greenlight_escrow::{webhook, Escrow, EscrowError};
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::escrow::defs::PledgeView;
use greenlight_lexicon::fund::greenlight::escrow::{connect_payout_account, create_pledge};
use sqlx::PgPool;

pub const MAINTAINER: &str = "did:plc:maintainer";
pub const START: i64 = 1_900_000_000;

pub struct Harness {
    pub pool: PgPool,
    pub clock: Arc<ManualClock>,
    pub proposals: Arc<InMemoryProposals>,
    pub escrow: Arc<Escrow>,
    pub keys: std::sync::atomic::AtomicU32,
}

pub fn start_time() -> DateTime<Utc> {
    Utc.timestamp_opt(START, 0).unwrap()
}

pub fn config() -> Config {
    Config {
        admin_password: "operator-secret".into(),
        ..Config::default()
    }
}

pub fn proposal_uri(n: u32) -> String {
    format!("at://did:plc:author/fund.greenlight.proposal/3kprop{n}")
}

pub fn strong_ref(uri: &str) -> StrongRef {
    StrongRef {
        uri: uri.to_owned(),
        cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".into(),
    }
}

impl Harness {
    pub async fn new(pool: PgPool) -> Harness {
        Harness::with_failpoints(pool, FailPoints::none()).await
    }

    pub async fn with_failpoints(pool: PgPool, failpoints: FailPoints) -> Harness {
        let clock = Arc::new(ManualClock::new(start_time()));
        let proposals = Arc::new(InMemoryProposals::new());
        let escrow = Escrow::new(pool.clone(), config(), proposals.clone())
            .unwrap()
            .with_clock(clock.clone())
            .with_failpoints(failpoints);
        Harness {
            pool,
            clock,
            proposals,
            escrow: Arc::new(escrow),
            keys: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// The same books and clock, a new escrow: what a restarted process sees.
    pub fn restart(&self, failpoints: FailPoints) -> Harness {
        let escrow = Escrow::new(self.pool.clone(), config(), self.proposals.clone())
            .unwrap()
            .with_clock(self.clock.clone())
            .with_failpoints(failpoints);
        Harness {
            pool: self.pool.clone(),
            clock: self.clock.clone(),
            proposals: self.proposals.clone(),
            escrow: Arc::new(escrow),
            keys: std::sync::atomic::AtomicU32::new(1_000_000),
        }
    }

    pub fn sandbox(&self) -> &SandboxProvider {
        self.escrow.sandbox.as_deref().unwrap()
    }

    /// A fresh idempotency key, unique across harnesses sharing a database.
    pub fn key(&self) -> String {
        let n = self.keys.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("test-key-{n:06}-{}", uuid_like())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now_utc()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// A proposal in preview for another 10 days, owned by [`MAINTAINER`], in USD.
    pub fn preview(&self, n: u32) -> String {
        let uri = proposal_uri(n);
        self.proposals.put(ProposalInfo {
            uri: uri.clone(),
            cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".into(),
            stage: Stage::Preview,
            currency: "USD".into(),
            project: Some(format!("at://{MAINTAINER}/fund.greenlight.project/app")),
            project_verified: true,
            maintainer: Some(MAINTAINER.into()),
            preview_ends_at: Some(self.now() + Duration::days(10)),
        });
        uri
    }

    pub fn set_stage(&self, uri: &str, stage: Stage) {
        self.proposals.set_stage(uri, stage, None);
    }

    pub fn pledge_input(&self, uri: &str, amount: i64) -> create_pledge::Input {
        create_pledge::Input {
            proposal: strong_ref(uri),
            amount,
            currency: "USD".into(),
            idempotency_key: self.key(),
        }
    }

    /// A pledge created and left pending at checkout.
    pub async fn pending_pledge(&self, backer: &str, uri: &str, amount: i64) -> PledgeView {
        pledge::create_pledge(&self.escrow, backer, &self.pledge_input(uri, amount))
            .await
            .unwrap()
    }

    /// Completes (or fails) a pledge's sandbox checkout, webhook and all.
    pub async fn pay(&self, pledge: &PledgeView, succeeded: bool) {
        let payment = self.payment_id(&pledge.id).await;
        let signed = self
            .sandbox()
            .settle_payment(&payment, succeeded)
            .await
            .unwrap()
            .expect("the payment was still open");
        webhook::receive(
            &self.escrow,
            "sandbox",
            Some(&signed.signature),
            &signed.body,
        )
        .await
        .unwrap();
    }

    /// A pledge created and paid: held.
    pub async fn held_pledge(&self, backer: &str, uri: &str, amount: i64) -> PledgeView {
        let pledge = self.pending_pledge(backer, uri, amount).await;
        self.pay(&pledge, true).await;
        self.pledge(&pledge.id).await
    }

    pub async fn pledge(&self, id: &str) -> PledgeView {
        pledge::get_pledge(&self.escrow, id).await.unwrap()
    }

    pub async fn payment_id(&self, pledge: &str) -> String {
        sqlx::query_scalar(
            "SELECT payment_id FROM escrow.pledge WHERE id = $1
             UNION ALL SELECT payment_id FROM escrow.donation WHERE id = $1",
        )
        .bind(pledge)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    pub async fn connect_maintainer(&self) {
        payout_account::connect_payout_account(
            &self.escrow,
            MAINTAINER,
            &connect_payout_account::Input {
                provider: None,
                idempotency_key: self.key(),
            },
        )
        .await
        .unwrap();
    }

    pub async fn tick(&self) -> Result<TickReport, EscrowError> {
        lifecycle::tick(&self.escrow).await
    }

    /// Refunds and transfers at the sandbox: (refunds, transfers) as (count, sum).
    pub async fn provider_movements(&self) -> ((i64, i64), (i64, i64)) {
        let refunds: (i64, i64) =
            sqlx::query_as("SELECT count(*), coalesce(sum(amount), 0)::bigint FROM sandbox.refund")
                .fetch_one(&self.pool)
                .await
                .unwrap();
        let transfers: (i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(amount), 0)::bigint FROM sandbox.transfer",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap();
        (refunds, transfers)
    }

    /// Fails the test on any invariant violation of the books or disagreement with the
    /// provider.
    pub async fn assert_books_sound(&self) {
        let violations = invariants::check(&self.pool, self.escrow.provider.as_ref())
            .await
            .unwrap();
        assert!(
            violations.is_empty(),
            "invariant violations:\n{}",
            violations
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    pub async fn balance(&self, account: &str) -> greenlight_escrow::ledger::Balance {
        greenlight_escrow::ledger::balance(&mut self.pool.acquire().await.unwrap(), "USD", account)
            .await
            .unwrap()
    }
}

/// The lexicon error name of a failed call.
pub fn error_name<T: std::fmt::Debug>(result: Result<T, EscrowError>) -> &'static str {
    match result {
        Err(error) => error
            .method_name()
            .unwrap_or_else(|| panic!("not a method error: {error}")),
        Ok(value) => panic!("expected an error, got {value:?}"),
    }
}

trait NowUtc {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl NowUtc for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        greenlight_escrow::clock::Clock::now(self)
    }
}

fn uuid_like() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

impl Harness {
    /// The provider takes `amount` of `currency` for the payment of pledge or donation
    /// `reference`, whatever it asked for (a provider may: an amount changed at checkout,
    /// another currency). The sandbox's books say so; returns the signed success event, not
    /// yet delivered.
    pub async fn provider_takes(
        &self,
        reference: &str,
        amount: i64,
        currency: &str,
    ) -> greenlight_escrow::provider::sandbox::SignedEvent {
        let payment = self.payment_id(reference).await;
        sqlx::query(
            "UPDATE sandbox.payment SET status = 'succeeded', amount = $2, currency = $3
             WHERE id = $1",
        )
        .bind(&payment)
        .bind(amount)
        .bind(currency)
        .execute(&self.pool)
        .await
        .unwrap();
        self.sandbox()
            .emit(
                "payment_intent.succeeded",
                serde_json::json!({
                    "id": payment, "object": "payment_intent", "amount": amount,
                    "amount_received": amount, "currency": currency.to_lowercase(),
                    "status": "succeeded", "metadata": {"escrow_reference": reference},
                }),
            )
            .await
            .unwrap()
    }

    /// Delivers a signed webhook as the provider would.
    pub async fn deliver(
        &self,
        signed: &greenlight_escrow::provider::sandbox::SignedEvent,
    ) -> Result<webhook::Outcome, webhook::WebhookError> {
        webhook::receive(
            &self.escrow,
            "sandbox",
            Some(&signed.signature),
            &signed.body,
        )
        .await
    }
}
