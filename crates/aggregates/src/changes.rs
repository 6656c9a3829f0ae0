//! Which proposals a batch of record changes touches.

use std::collections::BTreeSet;

use sqlx::PgConnection;

use crate::collection::{DISPUTE, ESTIMATE, MAINTAINER, PLEDGE, PROJECT, PROPOSAL, STATUS};
use crate::proposals::refresh_proposals;

/// One record the indexer created, replaced, deleted, hid or showed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangedRecord<'a> {
    /// The record's at-uri.
    pub uri: &'a str,
    /// Its collection NSID.
    pub collection: &'a str,
    /// The strongRef subject of the version stored or removed.
    pub subject_uri: Option<&'a str>,
    /// The subject of the version it replaced, when that differed.
    pub previous_subject_uri: Option<&'a str>,
}

/// Recomputes every proposal the changes touch, inside the caller's transaction. Returns how
/// many proposals were recomputed.
///
/// A project change touches all of its proposals (currency, maintainers and repository come
/// from the project); an estimate or status touches the proposal it is about, before and after
/// a change of subject.
pub async fn apply_record_changes(
    conn: &mut PgConnection,
    changes: &[ChangedRecord<'_>],
) -> Result<usize, sqlx::Error> {
    let mut proposals: BTreeSet<String> = BTreeSet::new();
    let mut projects: Vec<String> = Vec::new();
    for change in changes {
        match change.collection {
            PROPOSAL => {
                proposals.insert(change.uri.to_owned());
            }
            PROJECT => projects.push(change.uri.to_owned()),
            // An acceptance gives (or its deletion takes away) authority over every proposal
            // of the project it names.
            MAINTAINER => {
                projects.extend(change.subject_uri.map(str::to_owned));
                projects.extend(change.previous_subject_uri.map(str::to_owned));
            }
            ESTIMATE | STATUS | PLEDGE | DISPUTE => {
                proposals.extend(change.subject_uri.map(str::to_owned));
                proposals.extend(change.previous_subject_uri.map(str::to_owned));
            }
            _ => {}
        }
    }
    if !projects.is_empty() {
        let rows: Vec<String> = sqlx::query_scalar!(
            r#"SELECT uri AS "uri!" FROM appview.record
             WHERE subject_uri = ANY($1) AND collection = $2
             UNION SELECT uri FROM appview.proposal_anchor WHERE subject_uri = ANY($1)
             UNION SELECT uri FROM appview.proposal_state WHERE project_uri = ANY($1)"#,
            &projects,
            PROPOSAL,
        )
        .fetch_all(&mut *conn)
        .await?;
        proposals.extend(rows);
    }
    if proposals.is_empty() {
        return Ok(0);
    }
    crate::lock(conn).await?;
    let uris: Vec<String> = proposals.into_iter().collect();
    refresh_proposals(conn, &uris).await?;
    Ok(uris.len())
}
