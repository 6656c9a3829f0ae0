//! Proposal state: load a proposal's records, apply the funding rules, store the result.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use greenlight_funding::{
    derive, Currency, EstimateRecord, Exclusion, LargestContribution, ProjectRecord, ProposalInput,
    ProposalState, ProposalSubject, StageUpdate, StatusRecord, Timestamp,
};
use greenlight_lexicon::fund::greenlight::defs::{ActorRef, PreviewInfo, ReleaseInfo, StageEvent};
use greenlight_lexicon::fund::greenlight::status::{Status, StatusStage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::PgConnection;

use crate::collection::{ESTIMATE, MAINTAINER, PROJECT, PROPOSAL, STATUS};

/// How many proposals one round of statements covers, so a rebuild of a large database keeps
/// its statements (and their arrays) a reasonable size.
const CHUNK: usize = 500;

/// Formats a moment the way lexicon `datetime` fields want it.
pub(crate) fn datetime(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn micros_to_datetime(micros: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default()
}

/// Recomputes the given proposals' state from their records, inside the caller's
/// transaction. A proposal that is deleted or hidden loses its state rows.
pub async fn refresh_proposals(
    conn: &mut PgConnection,
    uris: &[String],
) -> Result<(), sqlx::Error> {
    for chunk in uris.chunks(CHUNK) {
        refresh_chunk(conn, chunk).await?;
    }
    Ok(())
}

/// Recomputes every aggregate from scratch: money from the stored ledger entries, then every
/// visible proposal.
pub async fn rebuild_all(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    crate::lock(conn).await?;
    sqlx::query!("TRUNCATE appview.proposal_state, appview.estimate_state")
        .execute(&mut *conn)
        .await?;
    crate::money::rebuild_money(conn).await?;
    // Anchored proposals are derived even when their record is gone: money may be held.
    let uris: Vec<String> = sqlx::query_scalar!(
        r#"SELECT uri AS "uri!" FROM appview.record WHERE collection = $1 AND NOT hidden
         UNION SELECT uri FROM appview.proposal_anchor ORDER BY 1"#,
        PROPOSAL,
    )
    .fetch_all(&mut *conn)
    .await?;
    refresh_proposals(conn, &uris).await
}

/// A proposal record as loaded: uri, did, cid, body, subject uri, createdAt, indexedAt.
type ProposalTuple = (
    String,
    String,
    String,
    Value,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);
/// An estimate record as loaded: uri, did, amount, currency, subject uri, createdAt.
type EstimateTuple = (
    String,
    String,
    Option<i64>,
    Option<String>,
    String,
    DateTime<Utc>,
);

struct ProposalRow {
    uri: String,
    did: String,
    cid: String,
    body: Value,
    subject_uri: Option<String>,
    created_at: DateTime<Utc>,
    indexed_at: DateTime<Utc>,
    /// The version derived is the anchor's, not the record's (see [`choose_version`]).
    from_anchor: bool,
    /// The author's record is gone (deleted, hidden, replaced by an invalid version).
    withdrawn: bool,
}

/// A record version that moved an anchored proposal to another subject: rejected, with why.
struct MovedEdit {
    uri: String,
    anchored_subject: String,
}

/// Which version of a proposal counts.
///
/// Before its project's maintainer takes it up, the proposal is whatever its author's record
/// says. After (once anchored), the record counts only while it stays about the anchored
/// project: a moved subject would hand the maintainer's work and the backers' money to
/// someone else, so the anchored version stands in for it, and a record that disappeared is
/// kept as withdrawn rather than forgotten.
fn choose_version(
    record: Option<ProposalRow>,
    anchor: Option<ProposalRow>,
) -> (Option<ProposalRow>, Option<MovedEdit>) {
    match (record, anchor) {
        (Some(record), None) => (Some(record), None),
        (Some(record), Some(anchor)) if record.subject_uri == anchor.subject_uri => {
            (Some(record), None)
        }
        (Some(record), Some(anchor)) => {
            let moved = MovedEdit {
                uri: record.uri,
                anchored_subject: anchor.subject_uri.clone().unwrap_or_default(),
            };
            (
                Some(ProposalRow {
                    from_anchor: true,
                    ..anchor
                }),
                Some(moved),
            )
        }
        (None, Some(anchor)) => (
            Some(ProposalRow {
                from_anchor: true,
                withdrawn: true,
                ..anchor
            }),
            None,
        ),
        (None, None) => (None, None),
    }
}

struct ProjectInfo {
    record: ProjectRecord,
    repository: Option<String>,
}

/// What one proposal's row holds besides the derived state.
struct Derived {
    row: ProposalRow,
    subject: ProposalSubject,
    project_uri: Option<String>,
    repository: Option<String>,
    state: ProposalState,
}

async fn refresh_chunk(conn: &mut PgConnection, uris: &[String]) -> Result<(), sqlx::Error> {
    let uris: Vec<String> = uris
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows: Vec<ProposalTuple> = sqlx::query!(
        "SELECT uri, did, cid, body, subject_uri, created_at, indexed_at FROM appview.record
             WHERE uri = ANY($1) AND collection = $2 AND NOT hidden",
        &uris,
        PROPOSAL,
    )
    .map(|r| {
        let t: ProposalTuple = (
            r.uri,
            r.did,
            r.cid,
            r.body,
            r.subject_uri,
            r.created_at,
            r.indexed_at,
        );
        t
    })
    .fetch_all(&mut *conn)
    .await?;
    let anchors: Vec<ProposalTuple> = sqlx::query!(
        r#"SELECT uri, did, cid, body, subject_uri AS "subject_uri?", created_at, indexed_at
             FROM appview.proposal_anchor WHERE uri = ANY($1)"#,
        &uris,
    )
    .map(|r| {
        let t: ProposalTuple = (
            r.uri,
            r.did,
            r.cid,
            r.body,
            r.subject_uri,
            r.created_at,
            r.indexed_at,
        );
        t
    })
    .fetch_all(&mut *conn)
    .await?;
    let to_row = |(uri, did, cid, body, subject_uri, created_at, indexed_at): ProposalTuple| {
        (
            uri.clone(),
            ProposalRow {
                uri,
                did,
                cid,
                body,
                subject_uri,
                created_at,
                indexed_at,
                from_anchor: false,
                withdrawn: false,
            },
        )
    };
    let mut records: BTreeMap<String, ProposalRow> = rows.into_iter().map(to_row).collect();
    // A bare-repository proposal belongs to the verified project that proved its repository.
    let attachable = records
        .values_mut()
        .map(|r| (r.uri.as_str(), &r.body, &mut r.subject_uri));
    crate::repository_attach::attach(conn, attachable).await?;
    let mut anchors: BTreeMap<String, ProposalRow> = anchors.into_iter().map(to_row).collect();
    let mut proposals: Vec<ProposalRow> = Vec::with_capacity(records.len());
    let mut moved: Vec<MovedEdit> = Vec::new();
    for uri in &uris {
        let (row, edit) = choose_version(records.remove(uri), anchors.remove(uri));
        proposals.extend(row);
        moved.extend(edit);
    }
    reject_moved_edits(conn, &moved).await?;

    let present: BTreeSet<&str> = proposals.iter().map(|p| p.uri.as_str()).collect();
    let gone: Vec<&str> = uris
        .iter()
        .map(String::as_str)
        .filter(|u| !present.contains(u))
        .collect();
    if !gone.is_empty() {
        let projects: Vec<Option<String>> = sqlx::query_scalar!(
            r#"DELETE FROM appview.proposal_state WHERE uri = ANY($1)
               RETURNING project_uri AS "project_uri?""#,
            &gone as &[&str],
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut changed: Vec<&str> = gone.clone();
        changed.extend(projects.iter().filter_map(|p| p.as_deref()));
        crate::notify(conn, &changed).await?;
        sqlx::query!(
            "DELETE FROM appview.estimate_state WHERE proposal_uri = ANY($1)",
            &gone as &[&str],
        )
        .execute(&mut *conn)
        .await?;
    }
    if proposals.is_empty() {
        return Ok(());
    }
    let present: Vec<String> = proposals.iter().map(|p| p.uri.clone()).collect();

    let projects = load_projects(conn, &proposals).await?;
    let mut statuses = load_statuses(conn, &present).await?;
    let mut estimates = load_estimates(conn, &present).await?;
    let authors: Vec<String> = estimates
        .values()
        .flatten()
        .map(|e| e.author.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let contributions = load_contributions(conn, &authors).await?;

    let mut derived = Vec::with_capacity(proposals.len());
    for row in proposals {
        let (subject, project_uri, repository) = subject_of(&row, &projects);
        let estimates = estimates.remove(&row.uri).unwrap_or_default();
        let wanted: BTreeSet<(&str, Currency)> = estimates
            .iter()
            .map(|e| (e.author.as_str(), e.currency))
            .collect();
        let contributions = contributions
            .iter()
            .filter(|c| wanted.contains(&(c.author.as_str(), c.currency)))
            .cloned()
            .collect();
        let input = ProposalInput {
            subject: subject.clone(),
            statuses: statuses.remove(&row.uri).unwrap_or_default(),
            estimates,
            contributions,
        };
        let state = derive(&input);
        derived.push(Derived {
            row,
            subject,
            project_uri,
            repository,
            state,
        });
    }
    anchor_taken_up(conn, &derived).await?;
    write_states(conn, &derived).await?;
    let mut changed: BTreeSet<&str> = BTreeSet::new();
    for d in &derived {
        changed.insert(&d.row.uri);
        changed.extend(d.project_uri.as_deref());
    }
    crate::notify(conn, &changed.into_iter().collect::<Vec<_>>()).await
}

/// Records each edit that tried to move an anchored proposal as the record's rejection, so its
/// author sees why the edit does not count. The record row stays: the writer replaces it when
/// the author writes again, and this runs again on that version.
async fn reject_moved_edits(
    conn: &mut PgConnection,
    moved: &[MovedEdit],
) -> Result<(), sqlx::Error> {
    for edit in moved {
        let reason = format!(
            "the proposal's subject is fixed to {} since its maintainer took it up; \
             an edit that moves it does not count",
            edit.anchored_subject
        );
        sqlx::query!(
            "INSERT INTO appview.rejected_record AS j (uri, did, collection, rkey, cid, rev, body, reason)
             SELECT uri, did, collection, rkey, cid, rev, body, $2 FROM appview.record WHERE uri = $1
             ON CONFLICT (uri) DO UPDATE SET cid = EXCLUDED.cid, rev = EXCLUDED.rev,
                 body = EXCLUDED.body, reason = EXCLUDED.reason, rejected_at = now()
             WHERE j.rev <= EXCLUDED.rev",
            &edit.uri,
            &reason,
        )
        .execute(&mut *conn)
        .await?;
        tracing::info!(uri = %edit.uri, "edit moving an anchored proposal rejected");
    }
    Ok(())
}

/// Anchors every proposal that its project's maintainer has just taken up (an accepted status
/// on a proposal about a project) at the version that was taken up.
async fn anchor_taken_up(conn: &mut PgConnection, derived: &[Derived]) -> Result<(), sqlx::Error> {
    for d in derived {
        let taken_up = !d.state.history.is_empty()
            && matches!(d.subject, ProposalSubject::Project(_))
            && !d.row.from_anchor;
        let Some(project) = d.project_uri.as_deref().filter(|_| taken_up) else {
            continue;
        };
        sqlx::query!(
            "INSERT INTO appview.proposal_anchor
                 (uri, did, cid, body, subject_uri, created_at, indexed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (uri) DO NOTHING",
            &d.row.uri,
            &d.row.did,
            &d.row.cid,
            &d.row.body,
            project,
            d.row.created_at,
            d.row.indexed_at,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn subject_of(
    row: &ProposalRow,
    projects: &BTreeMap<String, ProjectInfo>,
) -> (ProposalSubject, Option<String>, Option<String>) {
    let subject = row.body.get("subject");
    let kind = subject.and_then(|s| s.get("$type")).and_then(Value::as_str);
    match (kind, &row.subject_uri) {
        (
            Some("com.atproto.repo.strongRef" | crate::repository_attach::REPOSITORY_SUBJECT),
            Some(project_uri),
        ) => match projects.get(project_uri) {
            Some(info) => (
                ProposalSubject::Project(info.record.clone()),
                Some(project_uri.clone()),
                info.repository.clone(),
            ),
            None => (
                ProposalSubject::UnknownProject,
                Some(project_uri.clone()),
                None,
            ),
        },
        _ => {
            let url = subject
                .and_then(|s| s.get("url"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            match url {
                Some(url) => (
                    ProposalSubject::Repository { url: url.clone() },
                    None,
                    Some(url),
                ),
                None => (ProposalSubject::UnknownProject, None, None),
            }
        }
    }
}

async fn load_projects(
    conn: &mut PgConnection,
    proposals: &[ProposalRow],
) -> Result<BTreeMap<String, ProjectInfo>, sqlx::Error> {
    let wanted: Vec<&str> = proposals
        .iter()
        .filter_map(|p| p.subject_uri.as_deref())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(String, String, Value, Option<String>)> = sqlx::query!(
        "SELECT uri, did, body, currency FROM appview.record
         WHERE uri = ANY($1) AND collection = $2 AND NOT hidden",
        &wanted as &[&str],
        PROJECT,
    )
    .map(|r| (r.uri, r.did, r.body, r.currency))
    .fetch_all(&mut *conn)
    .await?;
    // Who accepted, per project: the authors of visible maintainer records naming it.
    let acceptances: Vec<(String, String)> = sqlx::query!(
        r#"SELECT subject_uri AS "subject_uri!", did FROM appview.record
         WHERE subject_uri = ANY($1) AND collection = $2 AND NOT hidden"#,
        &wanted as &[&str],
        MAINTAINER,
    )
    .map(|r| (r.subject_uri, r.did))
    .fetch_all(&mut *conn)
    .await?;
    let mut accepted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (project, did) in acceptances {
        accepted.entry(project).or_default().push(did);
    }
    let mut projects = BTreeMap::new();
    for (uri, did, body, currency) in rows {
        let currency = match currency.as_deref().map(Currency::parse) {
            None => Currency::USD,
            Some(Ok(currency)) => currency,
            Some(Err(error)) => {
                tracing::warn!(%uri, %error, "project with an unusable currency is ignored");
                continue;
            }
        };
        let maintainers = body
            .get("maintainers")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let repository = body
            .get("repository")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let accepted = accepted.remove(&uri).unwrap_or_default();
        projects.insert(
            uri,
            ProjectInfo {
                record: ProjectRecord {
                    owner: did,
                    maintainers,
                    accepted,
                    currency,
                },
                repository,
            },
        );
    }
    Ok(projects)
}

async fn load_statuses(
    conn: &mut PgConnection,
    proposals: &[String],
) -> Result<BTreeMap<String, Vec<StatusRecord>>, sqlx::Error> {
    let rows: Vec<(String, String, Value, String, DateTime<Utc>)> = sqlx::query!(
        r#"SELECT uri, did, body, subject_uri AS "subject_uri!", created_at FROM appview.record
         WHERE subject_uri = ANY($1) AND collection = $2 AND NOT hidden"#,
        proposals,
        STATUS,
    )
    .map(|r| (r.uri, r.did, r.body, r.subject_uri, r.created_at))
    .fetch_all(&mut *conn)
    .await?;
    let mut by_proposal: BTreeMap<String, Vec<StatusRecord>> = BTreeMap::new();
    for (uri, did, body, subject, created_at) in rows {
        // Already lexicon-valid when indexed; a stage this version does not know is ignored.
        match Status::deserialize(&body).ok().and_then(stage_update) {
            Some(update) => by_proposal.entry(subject).or_default().push(StatusRecord {
                uri,
                author: did,
                created_at: Timestamp::from_micros(created_at.timestamp_micros()),
                update,
            }),
            None => tracing::warn!(%uri, "status record with an unreadable stage is ignored"),
        }
    }
    Ok(by_proposal)
}

/// The funding rules' reading of a status record's `stage`.
fn stage_update(status: Status) -> Option<StageUpdate> {
    match status.stage {
        StatusStage::Development(development) => Some(StageUpdate::Development {
            goal: development.goal,
            currency: Currency::parse(&development.currency).ok()?,
            note: development.note,
        }),
        StatusStage::Preview(preview) => {
            let ends_at = DateTime::parse_from_rfc3339(&preview.ends_at).ok()?;
            Some(StageUpdate::Preview {
                url: preview.url,
                instructions: preview.instructions,
                ends_at: Timestamp::from_micros(ends_at.timestamp_micros()),
            })
        }
        StatusStage::Release(release) => Some(StageUpdate::Release {
            source_url: release.source_url,
            revision: release.revision,
            license: release.license,
        }),
        StatusStage::Decline(decline) => Some(StageUpdate::Decline {
            reason: decline.reason,
        }),
        StatusStage::Unknown(_) => None,
    }
}

async fn load_estimates(
    conn: &mut PgConnection,
    proposals: &[String],
) -> Result<BTreeMap<String, Vec<EstimateRecord>>, sqlx::Error> {
    let rows: Vec<EstimateTuple> = sqlx::query!(
        r#"SELECT uri, did, amount, currency, subject_uri AS "subject_uri!", created_at
             FROM appview.record
             WHERE subject_uri = ANY($1) AND collection = $2 AND NOT hidden"#,
        proposals,
        ESTIMATE,
    )
    .map(|r| {
        let t: EstimateTuple = (
            r.uri,
            r.did,
            r.amount,
            r.currency,
            r.subject_uri,
            r.created_at,
        );
        t
    })
    .fetch_all(&mut *conn)
    .await?;
    let mut by_proposal: BTreeMap<String, Vec<EstimateRecord>> = BTreeMap::new();
    for (uri, did, amount, currency, subject, created_at) in rows {
        let (Some(amount), Some(Ok(currency))) = (amount, currency.as_deref().map(Currency::parse))
        else {
            tracing::warn!(%uri, "estimate without a usable amount or currency is ignored");
            continue;
        };
        by_proposal
            .entry(subject)
            .or_default()
            .push(EstimateRecord {
                uri,
                author: did,
                amount,
                currency,
                created_at: Timestamp::from_micros(created_at.timestamp_micros()),
            });
    }
    Ok(by_proposal)
}

async fn load_contributions(
    conn: &mut PgConnection,
    authors: &[String],
) -> Result<Vec<LargestContribution>, sqlx::Error> {
    if authors.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, i64)> = sqlx::query!(
        "SELECT did, currency, largest FROM appview.contribution WHERE did = ANY($1) AND largest > 0",
        authors,
    )
    .map(|r| (r.did, r.currency, r.largest))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(author, currency, amount)| {
            Some(LargestContribution {
                author,
                currency: Currency::parse(&currency).ok()?,
                amount,
            })
        })
        .collect())
}

/// One accepted stage change as `appview.proposal_state.history` stores it: a
/// `fund.greenlight.defs#stageEvent` whose author is the DID alone, since a handle changes
/// without the proposal changing; the AppView adds it when it presents the view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredStageEvent {
    /// The stage entered.
    pub stage: String,
    /// AT-URI of the status record.
    pub uri: String,
    /// DID of the status record's author.
    pub author: String,
    /// Client-declared creation time of the status record.
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

impl StoredStageEvent {
    /// The lexicon's `stageEvent`, its author named by `author` (the DID with its handle).
    pub fn into_view(self, author: ActorRef) -> StageEvent {
        StageEvent {
            stage: self.stage,
            uri: self.uri,
            author,
            created_at: self.created_at,
        }
    }
}

/// The stored history: the latest 100 accepted stage changes, which is all the view holds.
fn stored_history(state: &ProposalState) -> Vec<StoredStageEvent> {
    let skip = state.history.len().saturating_sub(100);
    state
        .history
        .iter()
        .skip(skip)
        .map(|s| StoredStageEvent {
            stage: s.update.stage().to_string(),
            uri: s.uri.clone(),
            author: s.author.clone(),
            created_at: datetime(s.created_at.as_micros()),
        })
        .collect()
}

struct StageDetails {
    preview: Option<PreviewInfo>,
    release: Option<ReleaseInfo>,
    decline_reason: Option<String>,
    released_at: Option<DateTime<Utc>>,
}

fn stage_details(state: &ProposalState) -> StageDetails {
    let mut details = StageDetails {
        preview: None,
        release: None,
        decline_reason: None,
        released_at: None,
    };
    for status in &state.history {
        match &status.update {
            StageUpdate::Preview {
                url,
                instructions,
                ends_at,
            } => {
                // The latest accepted preview's end, which is this one's once it is the last.
                let ends_at = state.preview_ends_at.unwrap_or(*ends_at);
                details.preview = Some(PreviewInfo {
                    url: url.clone(),
                    instructions: instructions.clone(),
                    ends_at: datetime(ends_at.as_micros()),
                });
            }
            StageUpdate::Release {
                source_url,
                revision,
                license,
            } => {
                details.release = Some(ReleaseInfo {
                    source_url: source_url.clone(),
                    revision: revision.clone(),
                    license: license.clone(),
                });
                details.released_at = Some(micros_to_datetime(status.created_at.as_micros()));
            }
            StageUpdate::Decline { reason } => details.decline_reason = Some(reason.clone()),
            StageUpdate::Development { .. } => {}
        }
    }
    details
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn write_states(conn: &mut PgConnection, derived: &[Derived]) -> Result<(), sqlx::Error> {
    let n = derived.len();
    let mut uri = Vec::with_capacity(n);
    let mut did = Vec::with_capacity(n);
    let mut cid = Vec::with_capacity(n);
    let mut project_uri = Vec::with_capacity(n);
    let mut repository = Vec::with_capacity(n);
    let mut stage = Vec::with_capacity(n);
    let mut currency = Vec::with_capacity(n);
    let mut goal = Vec::with_capacity(n);
    let mut estimate_count = Vec::with_capacity(n);
    let mut estimate_total = Vec::with_capacity(n);
    let mut capped_count = Vec::with_capacity(n);
    let mut preview_started_at = Vec::with_capacity(n);
    let mut history = Vec::with_capacity(n);
    let mut preview = Vec::with_capacity(n);
    let mut release = Vec::with_capacity(n);
    let mut decline_reason = Vec::with_capacity(n);
    let mut released_at = Vec::with_capacity(n);
    let mut created_at = Vec::with_capacity(n);
    let mut indexed_at = Vec::with_capacity(n);
    let mut body = Vec::with_capacity(n);
    let mut withdrawn = Vec::with_capacity(n);
    let mut from_anchor = Vec::with_capacity(n);

    let mut e_uri = Vec::new();
    let mut e_proposal = Vec::new();
    let mut e_did = Vec::new();
    let mut e_counted = Vec::new();
    let mut e_capped = Vec::new();
    let mut e_frozen = Vec::new();
    let mut e_current = Vec::new();
    let mut e_created = Vec::new();

    for d in derived {
        let details = stage_details(&d.state);
        uri.push(d.row.uri.clone());
        did.push(d.row.did.clone());
        cid.push(d.row.cid.clone());
        project_uri.push(d.project_uri.clone());
        repository.push(d.repository.clone());
        stage.push(d.state.stage.to_string());
        currency.push(d.state.currency.to_string());
        goal.push(d.state.goal);
        estimate_count.push(to_i64(d.state.totals.counted_estimates));
        estimate_total.push(d.state.totals.counted_sum.max(0));
        capped_count.push(to_i64(d.state.totals.capped_estimates));
        preview_started_at.push(
            d.state
                .preview_started_at
                .map(|t| micros_to_datetime(t.as_micros())),
        );
        history.push(Json(stored_history(&d.state)));
        preview.push(details.preview.map(Json));
        release.push(details.release.map(Json));
        decline_reason.push(details.decline_reason);
        released_at.push(details.released_at);
        created_at.push(d.row.created_at);
        indexed_at.push(d.row.indexed_at);
        body.push(d.row.body.clone());
        withdrawn.push(d.row.withdrawn);
        from_anchor.push(d.row.from_anchor);

        let mut seen = BTreeSet::new();
        for verdict in &d.state.estimates {
            // A repeated URI is malformed input; its first occurrence stands for it.
            if !seen.insert(verdict.record.uri.as_str()) {
                continue;
            }
            e_uri.push(verdict.record.uri.clone());
            e_proposal.push(d.row.uri.clone());
            e_did.push(verdict.record.author.clone());
            e_counted.push(verdict.counted);
            e_capped.push(verdict.capped);
            e_frozen.push(verdict.is_frozen());
            e_current.push(
                !verdict
                    .exclusions
                    .iter()
                    .any(|e| matches!(e, Exclusion::Superseded { .. } | Exclusion::DuplicateUri)),
            );
            e_created.push(micros_to_datetime(verdict.record.created_at.as_micros()));
        }
    }

    sqlx::query!(
        "INSERT INTO appview.proposal_state AS s (uri, did, cid, project_uri, repository, stage,
             currency, goal, estimate_count, estimate_total, capped_count, preview_started_at,
             history, preview, release, decline_reason, released_at, search, created_at, indexed_at,
             withdrawn, from_anchor)
         SELECT u.uri, u.did, u.cid, u.project_uri, u.repository, u.stage, u.currency, u.goal,
             u.estimate_count, u.estimate_total, u.capped_count, u.preview_started_at, u.history,
             u.preview, u.release, u.decline_reason, u.released_at,
             setweight(to_tsvector('english', coalesce(u.body->>'title', '')), 'A')
               || setweight(to_tsvector('english', coalesce(
                    (SELECT string_agg(t, ' ') FROM jsonb_array_elements_text(
                        CASE WHEN jsonb_typeof(u.body->'tags') = 'array' THEN u.body->'tags'
                             ELSE '[]'::jsonb END) AS t), '')), 'B')
               || setweight(to_tsvector('english', coalesce(u.body->>'body', '')), 'C'),
             u.created_at, u.indexed_at, u.withdrawn, u.from_anchor
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::int8[], $9::int8[], $10::int8[], $11::int8[],
                     $12::timestamptz[], $13::jsonb[], $14::jsonb[], $15::jsonb[], $16::text[],
                     $17::timestamptz[], $18::timestamptz[], $19::timestamptz[], $20::jsonb[],
                     $21::bool[], $22::bool[])
              AS u(uri, did, cid, project_uri, repository, stage, currency, goal, estimate_count,
                   estimate_total, capped_count, preview_started_at, history, preview, release,
                   decline_reason, released_at, created_at, indexed_at, body, withdrawn,
                   from_anchor)
         ON CONFLICT (uri) DO UPDATE SET
             did = EXCLUDED.did, cid = EXCLUDED.cid, project_uri = EXCLUDED.project_uri,
             repository = EXCLUDED.repository, stage = EXCLUDED.stage,
             currency = EXCLUDED.currency, goal = EXCLUDED.goal,
             estimate_count = EXCLUDED.estimate_count, estimate_total = EXCLUDED.estimate_total,
             capped_count = EXCLUDED.capped_count,
             preview_started_at = EXCLUDED.preview_started_at, history = EXCLUDED.history,
             preview = EXCLUDED.preview, release = EXCLUDED.release,
             decline_reason = EXCLUDED.decline_reason, released_at = EXCLUDED.released_at,
             search = EXCLUDED.search, created_at = EXCLUDED.created_at,
             indexed_at = EXCLUDED.indexed_at, withdrawn = EXCLUDED.withdrawn,
             from_anchor = EXCLUDED.from_anchor",
        &uri,
        &did,
        &cid,
        &project_uri as &[Option<String>],
        &repository as &[Option<String>],
        &stage,
        &currency,
        &goal as &[Option<i64>],
        &estimate_count,
        &estimate_total,
        &capped_count,
        &preview_started_at as &[Option<DateTime<Utc>>],
        &history as _,
        &preview as _,
        &release as _,
        &decline_reason as &[Option<String>],
        &released_at as &[Option<DateTime<Utc>>],
        &created_at,
        &indexed_at,
        &body,
        &withdrawn,
        &from_anchor,
    )
    .execute(&mut *conn)
    .await?;

    sqlx::query!(
        "DELETE FROM appview.estimate_state WHERE proposal_uri = ANY($1)",
        &uri,
    )
    .execute(&mut *conn)
    .await?;
    if !e_uri.is_empty() {
        sqlx::query!(
            "INSERT INTO appview.estimate_state
                 (uri, proposal_uri, did, counted, capped, frozen, current, created_at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::bool[],
                                  $6::bool[], $7::bool[], $8::timestamptz[])
             ON CONFLICT (uri) DO NOTHING",
            &e_uri,
            &e_proposal,
            &e_did,
            &e_counted,
            &e_capped,
            &e_frozen,
            &e_current,
            &e_created,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWNER: &str = "did:plc:owner";
    const DAY: i64 = 86_400_000_000;

    fn status(rkey: &str, at: i64, stage: Value) -> Option<StatusRecord> {
        let body = json!({
            "subject": { "uri": "at://did:plc:a/fund.greenlight.proposal/p", "cid": "bafy" },
            "stage": stage,
            "createdAt": datetime(at),
        });
        Some(StatusRecord {
            uri: format!("at://{OWNER}/fund.greenlight.status/{rkey}"),
            author: OWNER.to_owned(),
            created_at: Timestamp::from_micros(at),
            update: stage_update(Status::deserialize(&body).ok()?)?,
        })
    }

    /// `proposal_state.history`, `preview` and `release` keep the jsonb the AppView reads.
    #[test]
    fn stored_stage_details_keep_their_jsonb() {
        let development = json!({
            "$type": "fund.greenlight.status#development", "goal": 50_000, "currency": "USD",
        });
        let preview = json!({
            "$type": "fund.greenlight.status#preview", "url": "https://preview.example.com",
            "instructions": "Try it", "endsAt": datetime(9 * DAY),
        });
        let release = json!({
            "$type": "fund.greenlight.status#release", "sourceUrl": "https://example.com/src",
            "license": "MIT",
        });
        let statuses = [
            status("s1", DAY, development),
            status("s2", 2 * DAY, preview),
            status("s3", 3 * DAY, release),
        ];
        let project = ProjectRecord {
            owner: OWNER.to_owned(),
            maintainers: Vec::new(),
            accepted: Vec::new(),
            currency: Currency::USD,
        };
        let state = derive(&ProposalInput {
            subject: ProposalSubject::Project(project),
            statuses: statuses.into_iter().map(Option::unwrap).collect(),
            estimates: Vec::new(),
            contributions: Vec::new(),
        });
        let event = |stage: &str, rkey: &str, at: i64| {
            json!({ "stage": stage, "uri": format!("at://{OWNER}/fund.greenlight.status/{rkey}"),
                    "author": OWNER, "createdAt": datetime(at) })
        };
        assert_eq!(
            serde_json::to_value(stored_history(&state)).unwrap(),
            json!([
                event("development", "s1", DAY),
                event("preview", "s2", 2 * DAY),
                event("released", "s3", 3 * DAY),
            ])
        );
        let details = stage_details(&state);
        assert_eq!(
            serde_json::to_value(details.preview).unwrap(),
            json!({ "url": "https://preview.example.com", "instructions": "Try it",
                    "endsAt": datetime(9 * DAY) })
        );
        assert_eq!(
            serde_json::to_value(details.release).unwrap(),
            json!({ "sourceUrl": "https://example.com/src", "license": "MIT" })
        );
        assert_eq!(details.released_at, Some(micros_to_datetime(3 * DAY)));
    }

    #[test]
    fn stages_the_rules_cannot_read_are_ignored() {
        let unknown = json!({ "$type": "fund.greenlight.status#paused", "until": "later" });
        let odd_currency =
            json!({ "$type": "fund.greenlight.status#development", "goal": 1, "currency": "usd" });
        let odd_end = json!({ "$type": "fund.greenlight.status#preview", "url": "https://x.example",
                              "instructions": "", "endsAt": "soon" });
        for stage in [unknown, odd_currency, odd_end] {
            assert!(status("s", DAY, stage.clone()).is_none(), "{stage}");
        }
        let decline = json!({ "$type": "fund.greenlight.status#decline", "reason": "no" });
        assert_eq!(
            status("s", DAY, decline).map(|s| s.update),
            Some(StageUpdate::Decline {
                reason: "no".to_owned()
            })
        );
    }
}
