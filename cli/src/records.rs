//! Building `fund.greenlight.*` records from the generated lexicon types, validating them
//! against their lexicons, and writing them to the user's repo through atrium.

use atrium_api::types::string::{AtIdentifier, Nsid, RecordKey};
use atrium_api::types::Unknown;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::fund::greenlight::{
    dispute, estimate, maintainer, pledge, project, proposal, status,
};
use greenlight_lexicon::{Catalog, LexiconRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CliError;
use crate::session::Session;

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

/// The parts of an `at://` URI naming a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtUri {
    /// The repo (a DID, or a handle).
    pub repo: String,
    /// The collection NSID.
    pub collection: String,
    /// The record key.
    pub rkey: String,
}

impl AtUri {
    /// Parses `at://REPO/COLLECTION/RKEY`.
    pub fn parse(uri: &str) -> Result<AtUri, CliError> {
        let bad = || {
            CliError::InvalidArgument(format!(
                "not a record AT-URI (at://DID/COLLECTION/RKEY): {uri:?}"
            ))
        };
        let rest = uri.strip_prefix("at://").ok_or_else(bad)?;
        let mut parts = rest.split('/');
        let (Some(repo), Some(collection), Some(rkey), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if repo.is_empty() || collection.is_empty() || rkey.is_empty() {
            return Err(bad());
        }
        Ok(AtUri {
            repo: repo.to_owned(),
            collection: collection.to_owned(),
            rkey: rkey.to_owned(),
        })
    }
}

/// The current time in the lexicons' datetime form.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The record as JSON with its `$type`, checked against its lexicon.
pub fn validated<T: LexiconRecord>(record: &T) -> Result<Value, CliError> {
    let nsid = T::NSID;
    let invalid = |reason: String| CliError::InvalidRecord { nsid, reason };
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

fn pds_error(method: &'static str) -> impl Fn(String) -> CliError {
    move |reason| CliError::Pds { method, reason }
}

fn to_unknown(value: Value) -> Result<Unknown, CliError> {
    serde_json::from_value(value)
        .map_err(|error| CliError::InvalidArgument(format!("record is not atproto data: {error}")))
}

fn cid_string<C: Serialize>(cid: &C) -> String {
    match serde_json::to_value(cid) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn repo_of(session: &Session) -> Result<AtIdentifier, CliError> {
    session
        .did()
        .parse()
        .map_err(|error: &str| CliError::InvalidArgument(format!("session DID: {error}")))
}

fn nsid(name: &str) -> Result<Nsid, CliError> {
    Nsid::new(name.to_owned())
        .map_err(|error| CliError::InvalidArgument(format!("NSID {name:?}: {error}")))
}

fn rkey(key: &str) -> Result<RecordKey, CliError> {
    RecordKey::new(key.to_owned())
        .map_err(|error| CliError::InvalidArgument(format!("record key {key:?}: {error}")))
}

/// Validates `record` and creates it in the user's repo (`rkey` or a server-chosen TID).
pub async fn create<T: LexiconRecord>(
    session: &Session,
    record: &T,
    record_key: Option<&str>,
) -> Result<RecordRef, CliError> {
    let value = validated(record)?;
    let input = atrium_api::com::atproto::repo::create_record::InputData {
        collection: nsid(T::NSID)?,
        record: to_unknown(value)?,
        repo: repo_of(session)?,
        rkey: record_key.map(rkey).transpose()?,
        swap_commit: None,
        validate: None,
    };
    let output = session
        .agent
        .api
        .com
        .atproto
        .repo
        .create_record(input.into())
        .await
        .map_err(|error| pds_error("com.atproto.repo.createRecord")(error.to_string()))?;
    Ok(RecordRef {
        uri: output.uri.clone(),
        cid: cid_string(&output.cid),
    })
}

/// Validates `record` and writes it at `record_key`, replacing what was there.
pub async fn put<T: LexiconRecord>(
    session: &Session,
    record: &T,
    record_key: &str,
) -> Result<RecordRef, CliError> {
    let value = validated(record)?;
    let input = atrium_api::com::atproto::repo::put_record::InputData {
        collection: nsid(T::NSID)?,
        record: to_unknown(value)?,
        repo: repo_of(session)?,
        rkey: rkey(record_key)?,
        swap_commit: None,
        swap_record: None,
        validate: None,
    };
    let output = session
        .agent
        .api
        .com
        .atproto
        .repo
        .put_record(input.into())
        .await
        .map_err(|error| pds_error("com.atproto.repo.putRecord")(error.to_string()))?;
    Ok(RecordRef {
        uri: output.uri.clone(),
        cid: cid_string(&output.cid),
    })
}

/// Deletes one of the user's own records.
pub async fn delete(session: &Session, uri: &str) -> Result<(), CliError> {
    let at = AtUri::parse(uri)?;
    if at.repo != session.did() && at.repo != session.handle() {
        return Err(CliError::InvalidArgument(format!(
            "{uri} is not in your repo ({})",
            session.did()
        )));
    }
    let input = atrium_api::com::atproto::repo::delete_record::InputData {
        collection: nsid(&at.collection)?,
        repo: repo_of(session)?,
        rkey: rkey(&at.rkey)?,
        swap_commit: None,
        swap_record: None,
    };
    session
        .agent
        .api
        .com
        .atproto
        .repo
        .delete_record(input.into())
        .await
        .map_err(|error| pds_error("com.atproto.repo.deleteRecord")(error.to_string()))?;
    Ok(())
}

/// A strong reference to the record at `uri`, reading its current CID from the PDS.
///
/// The user's PDS answers for the repos it hosts; for records elsewhere give the CID.
pub async fn strong_ref(session: &Session, uri: &str) -> Result<StrongRef, CliError> {
    let at = AtUri::parse(uri)?;
    let repo: AtIdentifier = at
        .repo
        .parse()
        .map_err(|error: &str| CliError::InvalidArgument(format!("repo of {uri}: {error}")))?;
    let params = atrium_api::com::atproto::repo::get_record::ParametersData {
        cid: None,
        collection: nsid(&at.collection)?,
        repo,
        rkey: rkey(&at.rkey)?,
    };
    let output = session
        .agent
        .api
        .com
        .atproto
        .repo
        .get_record(params.into())
        .await
        .map_err(|error| pds_error("com.atproto.repo.getRecord")(format!("{uri}: {error}")))?;
    let cid = output
        .cid
        .as_ref()
        .map(cid_string)
        .ok_or_else(|| CliError::Pds {
            method: "com.atproto.repo.getRecord",
            reason: format!("{uri} came without a CID"),
        })?;
    Ok(StrongRef {
        uri: output.uri.clone(),
        cid,
    })
}

/// A strong reference from a URI and, when known, its CID (otherwise read from the PDS).
pub async fn resolve_ref(
    session: &Session,
    uri: &str,
    cid: Option<&str>,
) -> Result<StrongRef, CliError> {
    match cid {
        Some(cid) => {
            AtUri::parse(uri)?;
            Ok(StrongRef {
                uri: uri.to_owned(),
                cid: cid.to_owned(),
            })
        }
        None => strong_ref(session, uri).await,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_uris_parse_and_reject() {
        let at = AtUri::parse("at://did:plc:abc/fund.greenlight.proposal/3k").unwrap();
        assert_eq!(at.repo, "did:plc:abc");
        assert_eq!(at.collection, "fund.greenlight.proposal");
        assert_eq!(at.rkey, "3k");
        assert!(AtUri::parse("https://example.com").is_err());
        assert!(AtUri::parse("at://did:plc:abc/fund.greenlight.proposal").is_err());
        assert!(AtUri::parse("at://did:plc:abc/a/b/c").is_err());
    }

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
            Err(CliError::InvalidRecord { .. })
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
