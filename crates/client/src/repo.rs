//! Writing to the person's own repo, and reading strong references, through their PDS.
//!
//! Generic over the agent's session manager: the person is whoever the session belongs to
//! ([`person`]), and their repo is the one written.

use atrium_api::agent::{Agent, SessionManager};
use atrium_api::types::string::{AtIdentifier, Did, Nsid, RecordKey};
use atrium_api::types::Unknown;
use greenlight_lexicon::com::atproto::repo::strong_ref::StrongRef;
use greenlight_lexicon::LexiconRecord;
use serde::Serialize;
use serde_json::Value;

use crate::at_uri::AtUri;
use crate::error::ClientError;
use crate::records::{validated, RecordRef};

/// The DID of the person the agent acts for: its session's account.
pub async fn person<M>(agent: &Agent<M>) -> Result<Did, ClientError>
where
    M: SessionManager + Send + Sync,
{
    agent.did().await.ok_or(ClientError::NoSession)
}

fn pds_error(method: &'static str) -> impl Fn(String) -> ClientError {
    move |reason| ClientError::Pds { method, reason }
}

/// The record's collection and its value as the PDS takes them, validated first.
fn prepared<T: LexiconRecord>(record: &T) -> Result<(Nsid, Unknown), ClientError> {
    let value = serde_json::from_value(validated(record)?).map_err(|error| {
        ClientError::InvalidArgument(format!("record is not atproto data: {error}"))
    })?;
    Ok((nsid(T::NSID)?, value))
}

fn cid_string<C: Serialize>(cid: &C) -> String {
    match serde_json::to_value(cid) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Where the PDS says it wrote a record.
fn written<C: Serialize>(uri: &str, cid: &C) -> RecordRef {
    RecordRef {
        uri: uri.to_owned(),
        cid: cid_string(cid),
    }
}

fn nsid(name: &str) -> Result<Nsid, ClientError> {
    Nsid::new(name.to_owned())
        .map_err(|error| ClientError::InvalidArgument(format!("NSID {name:?}: {error}")))
}

fn rkey(key: &str) -> Result<RecordKey, ClientError> {
    RecordKey::new(key.to_owned())
        .map_err(|error| ClientError::InvalidArgument(format!("record key {key:?}: {error}")))
}

/// Validates `record` and creates it in the person's repo (`rkey` or a server-chosen TID).
pub async fn create<M, T>(
    agent: &Agent<M>,
    record: &T,
    record_key: Option<&str>,
) -> Result<RecordRef, ClientError>
where
    M: SessionManager + Send + Sync,
    T: LexiconRecord,
{
    let (collection, record) = prepared(record)?;
    let input = atrium_api::com::atproto::repo::create_record::InputData {
        collection,
        record,
        repo: AtIdentifier::Did(person(agent).await?),
        rkey: record_key.map(rkey).transpose()?,
        swap_commit: None,
        validate: None,
    };
    let output = agent
        .api
        .com
        .atproto
        .repo
        .create_record(input.into())
        .await
        .map_err(|error| pds_error("com.atproto.repo.createRecord")(error.to_string()))?;
    Ok(written(&output.uri, &output.cid))
}

/// Validates `record` and writes it at `record_key` in the person's repo, replacing what was
/// there.
pub async fn put<M, T>(
    agent: &Agent<M>,
    record: &T,
    record_key: &str,
) -> Result<RecordRef, ClientError>
where
    M: SessionManager + Send + Sync,
    T: LexiconRecord,
{
    let (collection, record) = prepared(record)?;
    let input = atrium_api::com::atproto::repo::put_record::InputData {
        collection,
        record,
        repo: AtIdentifier::Did(person(agent).await?),
        rkey: rkey(record_key)?,
        swap_commit: None,
        swap_record: None,
        validate: None,
    };
    let output = agent
        .api
        .com
        .atproto
        .repo
        .put_record(input.into())
        .await
        .map_err(|error| pds_error("com.atproto.repo.putRecord")(error.to_string()))?;
    Ok(written(&output.uri, &output.cid))
}

/// Deletes one of the person's own records, named by an AT-URI with their DID (a URI of
/// someone else's repo is refused before the PDS is asked).
pub async fn delete<M>(agent: &Agent<M>, uri: &str) -> Result<(), ClientError>
where
    M: SessionManager + Send + Sync,
{
    let at = AtUri::parse(uri)?;
    let did = person(agent).await?;
    if at.repo != did.as_str() {
        return Err(ClientError::InvalidArgument(format!(
            "{uri} is not in your repo ({})",
            did.as_str()
        )));
    }
    let input = atrium_api::com::atproto::repo::delete_record::InputData {
        collection: nsid(&at.collection)?,
        repo: AtIdentifier::Did(did),
        rkey: rkey(&at.rkey)?,
        swap_commit: None,
        swap_record: None,
    };
    agent
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
/// The person's PDS answers for the repos it hosts; for records elsewhere give the CID.
pub async fn strong_ref<M>(agent: &Agent<M>, uri: &str) -> Result<StrongRef, ClientError>
where
    M: SessionManager + Send + Sync,
{
    let at = AtUri::parse(uri)?;
    let repo: AtIdentifier = at
        .repo
        .parse()
        .map_err(|error: &str| ClientError::InvalidArgument(format!("repo of {uri}: {error}")))?;
    let params = atrium_api::com::atproto::repo::get_record::ParametersData {
        cid: None,
        collection: nsid(&at.collection)?,
        repo,
        rkey: rkey(&at.rkey)?,
    };
    let output = agent
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
        .ok_or_else(|| ClientError::Pds {
            method: "com.atproto.repo.getRecord",
            reason: format!("{uri} came without a CID"),
        })?;
    Ok(StrongRef {
        uri: output.uri.clone(),
        cid,
    })
}

/// A strong reference from a URI and, when known, its CID (otherwise read from the PDS).
pub async fn resolve_ref<M>(
    agent: &Agent<M>,
    uri: &str,
    cid: Option<&str>,
) -> Result<StrongRef, ClientError>
where
    M: SessionManager + Send + Sync,
{
    match cid {
        Some(cid) => {
            AtUri::parse(uri)?;
            Ok(StrongRef {
                uri: uri.to_owned(),
                cid: cid.to_owned(),
            })
        }
        None => strong_ref(agent, uri).await,
    }
}
