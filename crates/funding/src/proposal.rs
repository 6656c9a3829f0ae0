//! A proposal's inputs and the state derived from them.

use serde::{Deserialize, Serialize};

use crate::currency::Currency;
use crate::estimate::{self, EstimateRecord, EstimateVerdict, LargestContribution, Totals};
use crate::stage::Stage;
use crate::status::{self, RejectedStatus, StatusRecord};
use crate::timestamp::Timestamp;

/// The parts of a `fund.greenlight.project` record the funding rules need.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRecord {
    /// DID of the repository holding the project record.
    pub owner: String,
    /// Extra DIDs the project lists as maintainers: invitations, until each accepts.
    pub maintainers: Vec<String>,
    /// DIDs that accepted in a `fund.greenlight.maintainer` record of their own repo naming
    /// the project. Only a DID both listed and accepted is a maintainer: listing alone would
    /// let a project enrol anyone without their consent, accepting alone would let anyone
    /// join any project.
    #[serde(default)]
    pub accepted: Vec<String>,
    /// The project's currency; every proposal of the project is counted in it.
    pub currency: Currency,
}

impl ProjectRecord {
    /// Whether `did` is listed and has accepted.
    pub fn is_consenting_maintainer(&self, did: &str) -> bool {
        self.maintainers.iter().any(|m| m == did) && self.accepted.iter().any(|a| a == did)
    }

    /// Whether `did` may post status for the project's proposals: the owner, or a listed
    /// maintainer who accepted.
    pub fn has_authority(&self, did: &str) -> bool {
        self.owner == did || self.is_consenting_maintainer(did)
    }

    /// Listed maintainers who have not accepted (yet): shown as invited, without authority.
    pub fn invited(&self) -> impl Iterator<Item = &str> {
        self.maintainers
            .iter()
            .map(String::as_str)
            .filter(|m| !self.accepted.iter().any(|a| a == m))
    }
}

/// What a proposal is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ProposalSubject {
    /// A project on Greenlight, with its record.
    Project(ProjectRecord),
    /// A repository whose maintainers are not on Greenlight: nobody can post status, and
    /// money is counted in USD, the lexicon's default currency.
    Repository {
        /// The repository URL from the proposal.
        url: String,
    },
    /// A project reference the AppView cannot resolve (deleted, or not indexed yet): treated
    /// like a repository proposal until the project record is known.
    UnknownProject,
}

impl ProposalSubject {
    /// The currency the proposal's money is counted in.
    pub fn currency(&self) -> Currency {
        match self {
            ProposalSubject::Project(project) => project.currency,
            ProposalSubject::Repository { .. } | ProposalSubject::UnknownProject => Currency::USD,
        }
    }

    /// The project, when there is one.
    pub fn project(&self) -> Option<&ProjectRecord> {
        match self {
            ProposalSubject::Project(project) => Some(project),
            ProposalSubject::Repository { .. } | ProposalSubject::UnknownProject => None,
        }
    }
}

/// Every record and escrow fact that bears on one proposal's state.
///
/// Order within the lists does not matter. A deleted record is simply left out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalInput {
    /// What the proposal is about.
    pub subject: ProposalSubject,
    /// Every status record whose subject is this proposal, by anyone.
    pub statuses: Vec<StatusRecord>,
    /// Every estimate record whose subject is this proposal.
    pub estimates: Vec<EstimateRecord>,
    /// Escrow's largest successful contribution per (author, currency), for estimate authors.
    pub contributions: Vec<LargestContribution>,
}

/// A proposal's lifecycle and totals, derived from its records alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalState {
    /// Current stage.
    pub stage: Stage,
    /// Currency of the goal and every total.
    pub currency: Currency,
    /// Goal of the latest accepted development status.
    pub goal: Option<i64>,
    /// `createdAt` of the first accepted preview: estimates after it are frozen.
    pub preview_started_at: Option<Timestamp>,
    /// `endsAt` of the latest accepted preview.
    pub preview_ends_at: Option<Timestamp>,
    /// Accepted status records, in the order they applied.
    pub history: Vec<StatusRecord>,
    /// Rejected status records, in the order they were considered, with reasons.
    pub rejected: Vec<RejectedStatus>,
    /// Every estimate record, ordered by `createdAt` then URI, with how it counts.
    pub estimates: Vec<EstimateVerdict>,
    /// Sums over `estimates`.
    pub totals: Totals,
}

impl ProposalState {
    /// The latest accepted status, which holds the current stage's details.
    pub fn current_status(&self) -> Option<&StatusRecord> {
        self.history.last()
    }
}

/// Derives a proposal's state from scratch. Pure and total: the same records in any order
/// give the same state, and no input makes it panic.
pub fn derive(input: &ProposalInput) -> ProposalState {
    let currency = input.subject.currency();
    let lifecycle = status::replay(&input.subject, &input.statuses);
    let (estimates, totals) = estimate::assess(
        currency,
        lifecycle.preview_started_at,
        &input.estimates,
        &input.contributions,
    );
    ProposalState {
        stage: lifecycle.stage,
        currency,
        goal: lifecycle.goal,
        preview_started_at: lifecycle.preview_started_at,
        preview_ends_at: lifecycle.preview_ends_at,
        history: lifecycle.history,
        rejected: lifecycle.rejected,
        estimates,
        totals,
    }
}
