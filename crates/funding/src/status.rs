//! Status records: who may post them, in which order they apply, and why one is rejected.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::currency::Currency;
use crate::proposal::ProposalSubject;
use crate::stage::Stage;
use crate::timestamp::Timestamp;

/// A `fund.greenlight.status` record about one proposal, as the AppView read it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRecord {
    /// The record's `at://` URI; breaks ties between equal `createdAt`s.
    pub uri: String,
    /// DID of the repository the record lives in.
    pub author: String,
    /// The record's `createdAt`.
    pub created_at: Timestamp,
    /// The record's `stage` union.
    pub update: StageUpdate,
}

/// The `stage` union of a status record: what the maintainer declares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum StageUpdate {
    /// Work has started, with a funding goal in minor units.
    Development {
        /// Funding goal in minor units of `currency`.
        goal: i64,
        /// Currency of the goal; must be the project's.
        currency: Currency,
        /// Free-form note for backers.
        note: Option<String>,
    },
    /// A public preview runs at `url` until `ends_at`.
    Preview {
        /// Where the preview can be tried.
        url: String,
        /// How to try the feature.
        instructions: String,
        /// When the preview closes.
        ends_at: Timestamp,
    },
    /// The code was published at `source_url`.
    Release {
        /// Public location of the released source.
        source_url: String,
        /// Commit or tag of the release.
        revision: Option<String>,
        /// SPDX license expression of the release.
        license: String,
    },
    /// The maintainer will not finish the feature.
    Decline {
        /// Why, for backers.
        reason: String,
    },
}

impl StageUpdate {
    /// The stage this update moves the proposal to.
    pub const fn stage(&self) -> Stage {
        match self {
            StageUpdate::Development { .. } => Stage::Development,
            StageUpdate::Preview { .. } => Stage::Preview,
            StageUpdate::Release { .. } => Stage::Released,
            StageUpdate::Decline { .. } => Stage::Declined,
        }
    }
}

/// Why a status record does not count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum RejectReason {
    /// The proposal names a bare repository, so there is no maintainer to post status.
    #[error(
        "the proposal is for a repository that has no Greenlight project, so no status counts"
    )]
    NoProject,
    /// The proposal's project record is not known (deleted, or not indexed yet).
    #[error("the proposal's project record is unavailable, so no status counts")]
    ProjectUnavailable,
    /// The author is neither the project's owner nor a listed maintainer.
    #[error("the author is neither the project's owner nor a listed maintainer")]
    NotMaintainer,
    /// The author is listed as a maintainer but has not accepted in a record of their own.
    #[error("the author is invited to maintain the project but has not accepted (no fund.greenlight.maintainer record)")]
    MaintainerNotAccepted,
    /// The move leaves out a stage, e.g. release before preview.
    #[error("cannot move from {from} to {to}: that skips a stage")]
    SkipsStage {
        /// Stage before this status.
        from: Stage,
        /// Stage the status asked for.
        to: Stage,
    },
    /// The move goes back to an earlier stage.
    #[error("cannot move back from {from} to {to}")]
    MovesBackwards {
        /// Stage before this status.
        from: Stage,
        /// Stage the status asked for.
        to: Stage,
    },
    /// The proposal already reached a final stage.
    #[error("the proposal is already {stage}; no status may follow")]
    AfterFinal {
        /// The final stage reached earlier.
        stage: Stage,
    },
    /// A development goal in a currency other than the project's.
    #[error("the goal is in {found} but the project's currency is {expected}")]
    CurrencyMismatch {
        /// The project's currency.
        expected: Currency,
        /// The currency the status used.
        found: Currency,
    },
    /// A development goal of zero or less.
    #[error("the goal must be a positive amount, got {goal}")]
    NonPositiveGoal {
        /// The goal as written.
        goal: i64,
    },
    /// A release without a usable public `http(s)` source URL.
    #[error("a release needs a public http(s) source URL")]
    InvalidSourceUrl,
    /// A preview without a usable public `http(s)` URL.
    #[error("a preview needs a public http(s) URL")]
    InvalidPreviewUrl,
    /// A preview whose `endsAt` is not after its `createdAt`.
    #[error("the preview ends ({ends_at}) no later than it starts ({starts_at})")]
    PreviewEndsBeforeStart {
        /// The status's `createdAt`.
        starts_at: Timestamp,
        /// The status's `endsAt`.
        ends_at: Timestamp,
    },
    /// A repeated preview that would end earlier than the one backers were promised.
    #[error("a repeated preview may only extend the preview: it ends at {new_end}, before {current_end}")]
    ShortensPreview {
        /// End of the preview in force.
        current_end: Timestamp,
        /// End the rejected status asked for.
        new_end: Timestamp,
    },
    /// Another record with the same URI was already considered.
    #[error("another status with the same URI was already considered")]
    DuplicateUri,
}

/// A status record that does not count, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedStatus {
    /// The record as given.
    pub record: StatusRecord,
    /// Why it does not count.
    pub reason: RejectReason,
}

/// Whether `url` is an absolute `http` or `https` URL with a host and no embedded
/// credentials or whitespace: the least a public link must be.
pub fn is_public_web_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
        return false;
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials in a link meant for everyone are a mistake at best and phishing at worst.
    !authority.is_empty() && !authority.contains('@') && !authority.starts_with(':')
}

/// The lifecycle that results from applying a proposal's status records in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lifecycle {
    pub stage: Stage,
    pub goal: Option<i64>,
    pub preview_started_at: Option<Timestamp>,
    pub preview_ends_at: Option<Timestamp>,
    pub history: Vec<StatusRecord>,
    pub rejected: Vec<RejectedStatus>,
}

impl Lifecycle {
    fn new() -> Self {
        Lifecycle {
            stage: Stage::Proposed,
            goal: None,
            preview_started_at: None,
            preview_ends_at: None,
            history: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// Decides whether `status` may apply on top of the lifecycle so far.
    fn check(&self, subject: &ProposalSubject, status: &StatusRecord) -> Result<(), RejectReason> {
        let project = match subject {
            ProposalSubject::Project(project) => project,
            ProposalSubject::Repository { .. } => return Err(RejectReason::NoProject),
            ProposalSubject::UnknownProject => return Err(RejectReason::ProjectUnavailable),
        };
        if !project.has_authority(&status.author) {
            return Err(if project.maintainers.contains(&status.author) {
                RejectReason::MaintainerNotAccepted
            } else {
                RejectReason::NotMaintainer
            });
        }
        self.stage.check_move(status.update.stage())?;
        match &status.update {
            StageUpdate::Development { goal, currency, .. } => {
                if *currency != project.currency {
                    return Err(RejectReason::CurrencyMismatch {
                        expected: project.currency,
                        found: *currency,
                    });
                }
                if *goal <= 0 {
                    return Err(RejectReason::NonPositiveGoal { goal: *goal });
                }
            }
            StageUpdate::Preview { url, ends_at, .. } => {
                if !is_public_web_url(url) {
                    return Err(RejectReason::InvalidPreviewUrl);
                }
                if *ends_at <= status.created_at {
                    return Err(RejectReason::PreviewEndsBeforeStart {
                        starts_at: status.created_at,
                        ends_at: *ends_at,
                    });
                }
                if let Some(current_end) = self.preview_ends_at {
                    if *ends_at < current_end {
                        return Err(RejectReason::ShortensPreview {
                            current_end,
                            new_end: *ends_at,
                        });
                    }
                }
            }
            StageUpdate::Release { source_url, .. } => {
                if !is_public_web_url(source_url) {
                    return Err(RejectReason::InvalidSourceUrl);
                }
            }
            StageUpdate::Decline { .. } => {}
        }
        Ok(())
    }

    fn apply(&mut self, status: &StatusRecord) {
        match &status.update {
            StageUpdate::Development { goal, .. } => self.goal = Some(*goal),
            StageUpdate::Preview { ends_at, .. } => {
                // The freeze starts with the first preview; extending it must not move it.
                self.preview_started_at.get_or_insert(status.created_at);
                self.preview_ends_at = Some(*ends_at);
            }
            StageUpdate::Release { .. } | StageUpdate::Decline { .. } => {}
        }
        self.stage = status.update.stage();
        self.history.push(status.clone());
    }
}

/// Sorts records by `createdAt`, then URI, then content, so any arrival order gives the same
/// sequence (content only matters for malformed input that repeats a URI).
pub(crate) fn sort_statuses(statuses: &[StatusRecord]) -> Vec<&StatusRecord> {
    let mut ordered: Vec<&StatusRecord> = statuses.iter().collect();
    ordered.sort_by(|a, b| {
        (a.created_at, &a.uri)
            .cmp(&(b.created_at, &b.uri))
            .then_with(|| a.cmp(b))
    });
    ordered
}

/// Applies every status record in order and records each rejection.
pub(crate) fn replay(subject: &ProposalSubject, statuses: &[StatusRecord]) -> Lifecycle {
    let mut lifecycle = Lifecycle::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for status in sort_statuses(statuses) {
        let verdict = if seen.insert(status.uri.as_str()) {
            lifecycle.check(subject, status)
        } else {
            Err(RejectReason::DuplicateUri)
        };
        match verdict {
            Ok(()) => lifecycle.apply(status),
            Err(reason) => lifecycle.rejected.push(RejectedStatus {
                record: status.clone(),
                reason,
            }),
        }
    }
    lifecycle
}
