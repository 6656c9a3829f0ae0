//! Building `fund.greenlight.*` records from the generated lexicon types and validating them
//! against their lexicons before anything is written.

use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::{
    dispute, estimate, maintainer, pledge, project, proposal, retainer, status,
};
use greenlight_lexicon::{Catalog, LexiconRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ClientError;

/// Where a written record lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    /// `at://DID/COLLECTION/RKEY`.
    pub uri: String,
    /// The CID of the version written.
    pub cid: String,
}

impl RecordRef {
    /// The record as a `com.atproto.repo.strongRef`.
    pub fn strong_ref(&self) -> StrongRef {
        StrongRef {
            uri: self.uri.clone(),
            cid: self.cid.clone(),
        }
    }
}

/// The current time in the lexicons' datetime form.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The record as JSON with its `$type`, checked against its lexicon.
pub fn validated<T: LexiconRecord>(record: &T) -> Result<Value, ClientError> {
    let nsid = T::NSID;
    let invalid = |reason: String| ClientError::InvalidRecord { nsid, reason };
    let value = record
        .to_record_value()
        .map_err(|error| invalid(error.to_string()))?;
    let catalog =
        Catalog::embedded().map_err(|error| invalid(format!("lexicon catalog: {error}")))?;
    catalog
        .validate_record(nsid, &value)
        .map_err(|error| invalid(error.to_string()))?;
    Ok(value)
}

/// The fields of a new project.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// Display name.
    pub name: String,
    /// Markdown description.
    pub description: String,
    /// Where releases land.
    pub repository: String,
    /// Home page.
    pub website: Option<String>,
    /// ISO 4217 currency.
    pub currency: String,
    /// Extra DIDs allowed to post status.
    pub maintainers: Vec<String>,
}

/// A `fund.greenlight.project` record.
pub fn project_record(new: &NewProject) -> project::Project {
    project::Project {
        name: new.name.clone(),
        description: new.description.clone(),
        repository: new.repository.clone(),
        website: new.website.clone(),
        currency: Some(new.currency.clone()),
        maintainers: (!new.maintainers.is_empty()).then(|| new.maintainers.clone()),
        created_at: now(),
    }
}

/// What a proposal is about.
#[derive(Debug, Clone)]
pub enum ProposalTarget {
    /// A project record on Greenlight.
    Project(StrongRef),
    /// A repository not on Greenlight yet.
    Repository(String),
}

/// A `fund.greenlight.proposal` record.
pub fn proposal_record(
    target: ProposalTarget,
    title: &str,
    body: &str,
    tags: Vec<String>,
) -> proposal::Proposal {
    proposal::Proposal {
        subject: match target {
            ProposalTarget::Project(reference) => proposal::ProposalSubject::StrongRef(reference),
            ProposalTarget::Repository(url) => {
                proposal::ProposalSubject::Repository(proposal::Repository { url })
            }
        },
        title: title.to_owned(),
        body: body.to_owned(),
        tags: (!tags.is_empty()).then_some(tags),
        created_at: now(),
    }
}

/// A `fund.greenlight.estimate` record.
pub fn estimate_record(subject: StrongRef, amount: i64, currency: &str) -> estimate::Estimate {
    estimate::Estimate {
        subject,
        amount,
        currency: currency.to_owned(),
        created_at: now(),
    }
}

/// A `fund.greenlight.status` record.
pub fn status_record(subject: StrongRef, stage: status::StatusStage) -> status::Status {
    status::Status {
        subject,
        stage,
        created_at: now(),
    }
}

/// A `fund.greenlight.pledge` record attributing money escrow holds (`receipt`).
pub fn pledge_record(
    subject: StrongRef,
    amount: i64,
    currency: &str,
    receipt: &str,
) -> pledge::Pledge {
    pledge::Pledge {
        subject,
        amount,
        currency: currency.to_owned(),
        receipt: receipt.to_owned(),
        created_at: now(),
    }
}

/// A `fund.greenlight.maintainer` record: the author accepts to maintain `project`, which
/// lists them (deleting it withdraws).
pub fn maintainer_record(project: StrongRef) -> maintainer::Maintainer {
    maintainer::Maintainer {
        subject: project,
        created_at: now(),
    }
}

/// A `fund.greenlight.dispute` record.
pub fn dispute_record(subject: StrongRef, reason: &str, evidence: Vec<String>) -> dispute::Dispute {
    dispute::Dispute {
        subject,
        reason: reason.to_owned(),
        evidence: (!evidence.is_empty()).then_some(evidence),
        created_at: now(),
    }
}

/// The record key of a record attributing something escrow holds (`receipt`, created at
/// `created_at`): a TID made from that time and a clock id from the receipt, so writing the
/// record twice (a reload, a retry) replaces it rather than duplicating it.
pub fn receipt_record_key(receipt: &str, created_at: &str) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let micros = chrono::DateTime::parse_from_rfc3339(created_at)
        .map(|t| t.timestamp_micros())
        .unwrap_or(0)
        .max(0) as u64;
    let digest = Sha256::digest(receipt.as_bytes());
    let clock = (u64::from(digest[0]) << 2 | u64::from(digest[1]) >> 6) & 0x3ff;
    let value = (micros & ((1 << 53) - 1)) << 10 | clock;
    (0..13)
        .rev()
        .map(|i| char::from(ALPHABET[((value >> (i * 5)) & 31) as usize]))
        .collect()
}

/// A `fund.greenlight.retainer` record: the client's public attribution of an agreement
/// escrow started (`receipt`), written only when the client asked to be listed.
pub fn retainer_record(offer: StrongRef, tier: &str, receipt: &str) -> retainer::Retainer {
    retainer::Retainer {
        subject: offer,
        tier: tier.to_owned(),
        listed_publicly: true,
        receipt: receipt.to_owned(),
        created_at: now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_validated_against_their_lexicons() {
        let subject = StrongRef {
            uri: "at://did:plc:abc/fund.greenlight.proposal/3k".into(),
            cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".into(),
        };
        let good = estimate_record(subject.clone(), 2500, "USD");
        let value = validated(&good).unwrap();
        assert_eq!(value["$type"], "fund.greenlight.estimate");
        let bad = estimate_record(subject, 2500, "dollars");
        assert!(matches!(
            validated(&bad),
            Err(ClientError::InvalidRecord { .. })
        ));
        let long_title = proposal_record(
            ProposalTarget::Repository("https://example.com/r".into()),
            &"x".repeat(500),
            "b",
            vec![],
        );
        assert!(validated(&long_title).is_err());
    }
}
