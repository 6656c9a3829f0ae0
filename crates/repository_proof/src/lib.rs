//! How a project proves it controls the repository (and website) it names, before it can
//! take money.
//!
//! The owner publishes a file naming the project — its AT-URI, or the owner's DID, e.g. as a
//! link to the project's Greenlight page — at one of the project's places:
//! - in the repository's default branch: `.greenlight`, or GitHub's funding file
//!   (`.github/FUNDING.yml`, `.forgejo/FUNDING.yml`, `FUNDING.yml`) with the page in `custom`;
//! - on the website: `/.well-known/greenlight`.
//!
//! [`locations`] says where those files are (pure); [`check`] fetches them all through the
//! safe fetcher and reports each one. Only control is proven, not ownership of the code: a
//! file in a repository can only be there if someone who can push to it put it there.

#![warn(missing_docs)]

mod locations;
mod token;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use greenlight_safe_fetch::{FetchError, Fetcher};

pub use locations::{
    locations, parse_repository, website_proof_url, Forge, Location, Place, Repository,
    RepositoryError, Target, REPOSITORY_FILES, WEBSITE_FILE,
};
pub use token::names_project;

/// What is proven, and where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPlaces {
    /// AT-URI of the project record.
    pub uri: String,
    /// DID of the account whose repository holds the project record.
    pub owner_did: String,
    /// The record's `repository`.
    pub repository: String,
    /// The record's `website`, if any.
    pub website: Option<String>,
}

/// The outcome at one location (`proofCheck.result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProofResult {
    /// The file names the project.
    Verified,
    /// There is no such file.
    Missing,
    /// The file exists but does not name the project.
    Mismatch,
    /// The place cannot be checked (not a repository address we understand).
    Unsupported,
    /// The fetch failed.
    Error,
}

impl ProofResult {
    /// The lexicon's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProofResult::Verified => "verified",
            ProofResult::Missing => "missing",
            ProofResult::Mismatch => "mismatch",
            ProofResult::Unsupported => "unsupported",
            ProofResult::Error => "error",
        }
    }

    /// The result named `name` by [`ProofResult::as_str`].
    pub fn parse(name: &str) -> Option<ProofResult> {
        [
            ProofResult::Verified,
            ProofResult::Missing,
            ProofResult::Mismatch,
            ProofResult::Unsupported,
            ProofResult::Error,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }
}

/// The check of one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofCheck {
    /// The place it belongs to.
    pub place: Place,
    /// The exact address fetched.
    pub proof_url: String,
    /// What was found.
    pub result: ProofResult,
    /// Why, for people.
    pub detail: Option<String>,
    /// When the check finished.
    pub checked_at: DateTime<Utc>,
}

/// Every location's check, and whether any of them proves the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofReport {
    /// True when at least one location is [`ProofResult::Verified`].
    pub verified: bool,
    /// One check per location, in [`locations`] order.
    pub checks: Vec<ProofCheck>,
}

impl ProofReport {
    /// Whether a file in the repository itself names the project (a website alone proves
    /// the project, but not control of the repository).
    pub fn repository_verified(&self) -> bool {
        self.checks
            .iter()
            .any(|c| c.place == Place::Repository && c.result == ProofResult::Verified)
    }
}

/// Checks every proof location of `places` at once. A location that fails does not stop the
/// others.
pub async fn check(fetcher: &Fetcher, places: &ProjectPlaces) -> ProofReport {
    let found = locations(&places.repository, places.website.as_deref());
    let checks = join_all(
        found
            .into_iter()
            .map(|location| check_location(fetcher, places, location)),
    )
    .await;
    ProofReport {
        verified: checks.iter().any(|c| c.result == ProofResult::Verified),
        checks,
    }
}

async fn check_location(
    fetcher: &Fetcher,
    places: &ProjectPlaces,
    location: Location,
) -> ProofCheck {
    let (result, detail) = match &location.target {
        Target::Unsupported(why) => (ProofResult::Unsupported, Some(why.clone())),
        Target::Fetch => match fetcher.get(&location.proof_url).await {
            Ok(fetched) => {
                let text = fetched.text();
                if names_project(&text, &places.uri, &places.owner_did) {
                    (ProofResult::Verified, None)
                } else {
                    let detail = match token::first_did(&text) {
                        Some(other) => format!(
                            "the file names {other}, not this project ({} or {})",
                            places.uri, places.owner_did
                        ),
                        None => format!(
                            "the file does not name this project ({} or {})",
                            places.uri, places.owner_did
                        ),
                    };
                    (ProofResult::Mismatch, Some(detail))
                }
            }
            Err(FetchError::Status(404 | 410)) => {
                (ProofResult::Missing, Some("no such file".to_owned()))
            }
            Err(error) => {
                tracing::debug!(url = %location.proof_url, %error, "proof location failed");
                (ProofResult::Error, Some(error.to_string()))
            }
        },
    };
    ProofCheck {
        place: location.place,
        proof_url: location.proof_url,
        result,
        detail: detail.map(|d| clip(d, 1000)),
        checked_at: Utc::now(),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
