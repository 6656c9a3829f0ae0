//! Greenlight's funding rules: stages, authority, estimate caps, retainers. Pure, no I/O.
//!
//! Retainers (recurring payments from companies that depend on a maintainer's work) have
//! their own modules: [`retainer_offer`] (who may sell them, valid tiers), [`retainer`]
//! (the agreement state machine [`retainer::apply`], the retry schedule, what a period
//! pays, public totals, and why retainer payments do not raise the estimate cap),
//! [`billing_period`] (calendar periods from the start date) and [`fee`] (the published
//! fee). `docs/RETAINERS.md` explains the model.
//!
//! [`derive()`] turns everything known about one proposal (its project, every status and
//! estimate record pointing at it, and escrow's largest successful contribution per estimate
//! author and currency) into a [`ProposalState`]. It reads no clock, does no I/O and never
//! panics, and the same records in any order give the same state, so the AppView can rebuild
//! from scratch at any time and compare with its incremental aggregates.
//!
//! # Rules as implemented
//!
//! Amounts are `i64` minor units; times are [`Timestamp`]s (µs since the epoch) parsed by
//! the caller from the records' `createdAt`/`endsAt`.
//!
//! **Currency.** A proposal's money is in its project's currency. A repository proposal (and
//! one whose project record is unknown) is counted in USD, the lexicon's default.
//!
//! **Status order.** Status records apply in `(createdAt, uri)` order; a record repeating an
//! earlier record's URI is rejected ([`RejectReason::DuplicateUri`]). Each is accepted or
//! rejected with one [`RejectReason`], checked in this order:
//! 1. *Authority*: the author must be the project's owner or a listed maintainer who accepted
//!    ([`ProjectRecord::has_authority`]); an invited maintainer who has not accepted is
//!    `MaintainerNotAccepted`. With no project (repository proposal, unknown project) no
//!    status counts.
//! 2. *Order* ([`Stage::check_move`]): `proposed → development → preview → released`,
//!    `declined` from development or preview only. Skipping a stage (release before preview,
//!    decline while proposed) is `SkipsStage`, going back is `MovesBackwards`, anything after
//!    released/declined (including a second release) is `AfterFinal`. Repeating development
//!    or preview is accepted and updates it: the later goal wins, the later `endsAt` wins.
//! 3. *Content*: a development goal must be in the project's currency and positive; a preview
//!    needs an `http(s)` URL and must end after its `createdAt`, and a repeated preview may
//!    extend but never shorten the preview in force (backers were promised that time); a
//!    release needs an `http(s)` source URL with a host and no credentials.
//!
//! A rejected status changes nothing. The stage history is the accepted records in order.
//!
//! **Estimates.** Each estimate record is shown with an [`EstimateVerdict`]; it counts only
//! if it has no [`Exclusion`]:
//! - *Freeze*: the preview begins at the `createdAt` of the first accepted preview status
//!   (later previews do not move it). Estimates created strictly after it are `Frozen`; one
//!   created at exactly that microsecond still counts.
//! - *Latest wins*: per author, only the newest non-frozen estimate (by `createdAt`, then URI)
//!   counts; older ones are `Superseded`. So a change of mind during the preview leaves the
//!   pre-preview estimate in the total, and frozen estimates are never marked superseded.
//!   There is no memory of deletions: if the newest record is deleted, the author's next
//!   newest record (still in their repository) counts again; a client that withdraws an
//!   estimate deletes all of the author's estimate records for the proposal.
//! - *Currency*: an estimate in another currency is `WrongCurrency` (never converted). It
//!   still takes part in latest wins: an author's newest word is what they meant.
//! - A negative amount (lexicon-invalid) is `NegativeAmount`.
//! - *Cap*: a counted estimate adds `min(amount, cap)` where `cap` is [`estimate_cap`] of
//!   the author's largest successful contribution in that currency, `max(newcomer floor,
//!   2 × largest)`; the floor is the currency's own, in its minor units, from the
//!   [`currency`] table (25.00 USD, 25.00 EUR, 4 000 JPY, 35 000 KRW, 10.000 BHD, …).
//!   Only an amount strictly over the cap is marked `capped`.
//!
//! **Totals.** Shown and counted estimate counts, the counted sum (saturating at `i64::MAX`,
//! never negative) and how many counted estimates were capped.
//!
//! ```
//! use greenlight_funding::*;
//!
//! let input = ProposalInput {
//!     subject: ProposalSubject::Project(ProjectRecord {
//!         owner: "did:plc:owner".into(),
//!         maintainers: vec![],
//!         accepted: vec![],
//!         currency: Currency::USD,
//!     }),
//!     statuses: vec![StatusRecord {
//!         uri: "at://did:plc:owner/fund.greenlight.status/3k1".into(),
//!         author: "did:plc:owner".into(),
//!         created_at: Timestamp::from_micros(1_000),
//!         update: StageUpdate::Development { goal: 50_000, currency: Currency::USD, note: None },
//!     }],
//!     estimates: vec![EstimateRecord {
//!         uri: "at://did:plc:fan/fund.greenlight.estimate/3k2".into(),
//!         author: "did:plc:fan".into(),
//!         amount: 10_000,
//!         currency: Currency::USD,
//!         created_at: Timestamp::from_micros(2_000),
//!     }],
//!     contributions: vec![],
//! };
//! let state = derive(&input);
//! assert_eq!(state.stage, Stage::Development);
//! assert_eq!(state.goal, Some(50_000));
//! // A newcomer's estimate counts at most 25.00.
//! assert_eq!(state.totals.counted_sum, 2_500);
//! assert!(state.estimates[0].capped);
//! ```

pub mod billing_period;
pub mod currency;
mod estimate;
pub mod fee;
mod proposal;
pub mod retainer;
pub mod retainer_offer;
mod stage;
mod status;
mod timestamp;

pub use billing_period::{period_bounds, period_containing, Date, Period, PeriodBounds};
pub use currency::{AmountError, AmountStyle, Currency, CurrencyInfo, InvalidCurrency};
pub use estimate::{
    estimate_cap, EstimateRecord, EstimateVerdict, Exclusion, LargestContribution, Totals,
};
pub use fee::{split_fee, FeeSplit, PUBLISHED_FEE_BASIS_POINTS};
pub use proposal::{derive, ProjectRecord, ProposalInput, ProposalState, ProposalSubject};
pub use retainer::{
    counts_toward_estimate_cap, maintainer_totals, next_retry_on, period_payment, Agreement,
    AgreementState, ClientAgreement, ContributionKind, Event, EventKind, PeriodPayment, Refusal,
    RetainerTotals, Terms, RETRY_SCHEDULE_DAYS,
};
pub use retainer_offer::{
    check_offer, validate_tiers, AuthorityProblem, CoveredProject, Included, OfferInput,
    OfferVerdict, Tier, TierProblem, TierRecord,
};
pub use stage::Stage;
pub use status::{is_public_web_url, RejectReason, RejectedStatus, StageUpdate, StatusRecord};
pub use timestamp::Timestamp;
